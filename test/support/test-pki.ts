// A throwaway PKI for the TLS tests, made with openssl: a CA, a server certificate
// for 127.0.0.1, and client certificates (CN = the AN's nodeId).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const ossl = (dir: string, args: string[]): void => {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe", timeout: 30_000 });
};

export interface Pki {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  client(cn: string): { cert: string; key: string };
}

/** Makes a CA named `name` in `dir` with a server certificate for 127.0.0.1. */
export function makePki(dir: string, name = "ca"): Pki {
  const ca = join(dir, `${name}.crt`);
  const caKey = join(dir, `${name}.key`);
  ossl(dir, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2", "-subj", `/CN=test ${name}`]);
  const issue = (cn: string, ext: string): { cert: string; key: string } => {
    const key = join(dir, `${name}-${cn}.key`);
    const csr = join(dir, `${name}-${cn}.csr`);
    const cert = join(dir, `${name}-${cn}.crt`);
    const extFile = join(dir, `${name}-${cn}.ext`);
    writeFileSync(extFile, ext);
    ossl(dir, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=${cn}`]);
    ossl(dir, ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", extFile]);
    return { cert, key };
  };
  const server = issue("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  return { ca, serverCert: server.cert, serverKey: server.key, client: (cn) => issue(cn, "extendedKeyUsage=clientAuth\n") };
}

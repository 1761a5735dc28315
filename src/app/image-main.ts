// Entry of a single-executable image (build/images.mjs): the addon comes from the
// embedded bytes, then the usual command line. A SEA passes every argument to the
// program, with argv[1] the executable itself, so the arguments start at argv[2].
import { installEmbeddedAddon } from "./image.ts";
import { main } from "./main.ts";
import { EXIT } from "./process-signals.ts";

installEmbeddedAddon();
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`an: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(EXIT.startFailed);
  },
);

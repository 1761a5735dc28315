// How many cases a property test runs: the issue asks for at least 100k per format
// in CI; a developer's edit-test loop gets a tenth of that.
export function propertyRuns(): number {
  const fromEnv = Number(process.env.PROPERTY_RUNS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return process.env.CI === "true" ? 100_000 : 10_000;
}

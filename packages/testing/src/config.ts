/** The test process's environment, read when asked (never at import). */
export function testEnvironment(): NodeJS.ProcessEnv {
  return process.env;
}

/**
 * Re-checks a condition on state the test cannot subscribe to (rows in pg_locks, a job's count in
 * another process) until it holds, at most `timeoutMs`.
 */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

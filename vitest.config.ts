import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS (`main`) and ESM (`module`) without an `exports` map: Node loads the
    // CommonJS copy for graphql-yoga while Vite would pick the ESM one for our code, and two copies
    // of graphql break `instanceof GraphQLError` (every expected error would be masked). One copy.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Files run in parallel processes; each opens its own database, so they never share state.
    pool: 'forks',
  },
});

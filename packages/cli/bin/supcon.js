#!/usr/bin/env node
// Thin launcher so the `supcon` bin exists before the TypeScript build has run.
import('../dist/src/main.js').catch((error) => {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src/main.js')) {
    console.error(
      'supcon is not built yet: run `npm run build` (or `bash scripts/setup.sh`) in the repository root.',
    );
    process.exit(1);
  }
  throw error;
});

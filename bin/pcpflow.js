#!/usr/bin/env node
// The operator CLI runs TypeScript through tsx's loader: one code base, no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main();

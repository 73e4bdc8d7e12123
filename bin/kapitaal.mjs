#!/usr/bin/env node
// Entry point of the `kapitaal` binary. TypeScript runs through tsx so that a
// fresh `npm install` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');

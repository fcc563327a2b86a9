#!/usr/bin/env node
// Every command is a process of a second or two. On an embedded database V8 would compile
// PostgreSQL's WebAssembly a second time, optimised, on background threads: work such a short
// process never gets back (a `user list` cost 2.2 s of CPU and 238 MB, with baseline code only
// 1.3 s and 160 MB, and its queries ran no slower). The flag is this process's own, set before
// anything compiles; an app that imports the library is never touched.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--liftoff-only');
await import('../dist/cli.js');

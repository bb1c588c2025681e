#!/usr/bin/env node
// The published bin: loads the built CLI. A file of its own, present before any build, so that installing the
// workspace links this bin without warnings (dist/ appears only with `pnpm build`).
await import("../dist/cli/main.js");

#!/usr/bin/env node
// The published bin. It checks the Node version before loading the server, because the server's imports
// (node:sqlite) fail to resolve on older Node before any of its code could explain why; ESM resolves static
// imports first, so the server is loaded with a dynamic import after the check. Plain JavaScript that old
// Node versions parse.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `async-tools-weather needs Node.js 22.18 or later, and this is ${process.version}: ` +
      "run it on Node 24 with `npx -y -p node@24 -p @async-tools/weather async-tools-weather`, " +
      "or install Node 24 (https://nodejs.org, or `nvm install 24`)\n",
  );
  process.exit(1);
}
// A host spawns this command on every start, so Node keeps the server's compiled code (in the OS temp folder,
// or NODE_COMPILE_CACHE) and reuses it the next time; NODE_DISABLE_COMPILE_CACHE=1 turns that off.
const { enableCompileCache, flushCompileCache } = process.getBuiltinModule("node:module");
enableCompileCache();
await import("../dist/cli/main.js");
// Written now, not at exit: hosts often end a server with SIGKILL, and nothing runs on the way out then.
flushCompileCache();

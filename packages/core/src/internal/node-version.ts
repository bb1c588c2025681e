/**
 * Stops the library from loading on a Node.js without `node:sqlite` (before 22.18), with one line that says
 * what to install, instead of a raw "No such built-in module" from deep inside. `index.ts` imports it first,
 * and the build loads `node:sqlite` lazily (see tsup.config.ts) so that this check runs before anything
 * needs it. It imports nothing, so it runs on any Node.
 */

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `@async-tools/core needs Node.js 22.18 or later (for node:sqlite), and this is ${process.version}: ` +
      "run your program on Node 24 with `npx -y node@24 <your-entry.js>`, or install Node 24 " +
      "(https://nodejs.org, or `nvm install 24`)\n",
  );
  process.exit(1);
}

export {};

/**
 * The vitest setup of the `unit` project, after `setup.ts`: a unit test starts no child process. A process
 * costs the edit loop about a second of CPU; a test that needs one belongs to the integration project
 * (`BESIDE_SOURCE_NOT_UNIT` in the root `vitest.config.ts`), and this says so at the first spawn.
 */
import { ChildProcess } from "node:child_process";

const GUARDED = Symbol.for("async-tools.unit-setup.spawn-guard");
// `spawn` is Node's internal method behind every asynchronous way to start a process (spawn, exec, execFile,
// fork); the types do not list it.
const prototype = ChildProcess.prototype as unknown as {
  spawn(options: { file?: string }): unknown;
  [GUARDED]?: true;
};

// Workers share a module registry between files (`isolate: false`): patch once per worker.
if (!prototype[GUARDED]) {
  prototype[GUARDED] = true;
  prototype.spawn = function refuse(options: { file?: string }) {
    throw new Error(
      `a unit test started a child process (${options.file ?? "?"}): list its file in BESIDE_SOURCE_NOT_UNIT ` +
        "in the root vitest.config.ts, so it runs with the integration tests",
    );
  };
}

import { structured } from "@async-tools/test-helpers/mcp";
import { CallToolResultSchema, type Task } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { type RunningServer, stdioRigs } from "./harness.ts";

const setup = stdioRigs();

const calgary = { latitude: 51.05, longitude: -114.07, year: 2024, month: 1 };

/** Makes a task-augmented call with the SDK's client task API and returns the task it created. */
async function createTask(server: RunningServer, args: Record<string, unknown>): Promise<Task> {
  const stream = server.client.experimental.tasks.callToolStream(
    { name: "weather_data", arguments: args },
    CallToolResultSchema,
    { task: { ttl: 60_000 } },
  );
  for await (const message of stream) {
    if (message.type === "taskCreated") return message.task;
    if (message.type === "error") throw message.error;
  }
  throw new Error("the call ended without creating a task");
}

describe("MCP Tasks on the weather server over stdio", () => {
  it("completes a task created before a SIGKILL once the server restarts on the same store", async () => {
    const { fake, start } = await setup({ latencyMs: 2000 });

    const first = await start();
    const task = await createTask(first, calgary);
    expect(task.status).toBe("working");
    await expect.poll(() => fake.requests()).toBe(1);
    await first.kill();

    const second = await start();
    fake.setLatency(0);
    await expect
      .poll(async () => (await second.client.experimental.tasks.getTask(task.taskId)).status, {
        interval: 250,
      })
      .toBe("completed");
    const result = await second.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema);
    expect(result.isError).toBeFalsy();
    const weather = result.structuredContent as { days: unknown[]; summary: { days: number } };
    expect(weather.days).toHaveLength(31);
    expect(weather.summary.days).toBe(31);

    // The task ID is the job name: the job tools see the same job, and it ran once more after the crash.
    const probed = structured<{ jobs: { job_name: string; status: string }[] }>(
      await second.call("probe_status", { job_names: [task.taskId] }),
    );
    expect(probed.jobs[0]).toMatchObject({ job_name: task.taskId, status: "completed" });
    expect(fake.requests()).toBe(2);
  });
});

/** The vitest setup of every project: tests choose their store explicitly, and log only warnings. */
// The Resonate SDK silently switches to HTTP when RESONATE_URL is set.
delete process.env.RESONATE_URL;
delete process.env.ASYNC_TOOLS_STORE;
process.env.ASYNC_TOOLS_LOG ??= "warn";

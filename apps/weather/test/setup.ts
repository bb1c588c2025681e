// The Resonate SDK silently switches to HTTP when RESONATE_URL is set; tests choose their store explicitly.
delete process.env.RESONATE_URL;
delete process.env.ASYNC_TOOLS_STORE;
process.env.ASYNC_TOOLS_LOG ??= "warn";

delete process.env.RESONATE_URL;

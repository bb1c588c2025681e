// The dashboard's only script (served at <base>/assets/app.js): it refreshes the parts of a page marked
// `data-live` from their fragment URL (not while the user fills in a form there, such as a job's question), and
// submits the filter form when a filter changes. Pages work without it.

(() => {
  const every = Number(document.documentElement.dataset.poll || 1000);
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    form.addEventListener("change", () => form.submit());
  }
  for (const live of document.querySelectorAll("[data-live]")) {
    let last = live.innerHTML;
    // A refresh would replace a half-filled form (the page's relative times change every second).
    let editing = false;
    const hold = (event) => {
      if (event.target.closest("form")) editing = true;
    };
    live.addEventListener("input", hold);
    live.addEventListener("change", hold);
    const tick = async () => {
      try {
        const res = await fetch(live.dataset.live, {
          headers: { accept: "text/html" },
          credentials: "same-origin",
        });
        if (res.status === 401) {
          location.reload();
          return;
        }
        if (res.ok) {
          const html = await res.text();
          if (html !== last && !editing) {
            live.innerHTML = html;
            last = html;
          }
          if (res.headers.get("x-job-finished") === "1") return;
        }
      } catch {}
      setTimeout(tick, every);
    };
    setTimeout(tick, every);
  }
})();

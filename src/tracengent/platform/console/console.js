// Tracengent local console: keeps the server-rendered sections fresh and decides approvals
// without a reload. The server renders (and escapes) all HTML; this script only swaps it in.
"use strict";

(function () {
  const POLL_MS = 1000;
  const sections = ["approvals", "counters", "traces", "standalone"];
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const rendered = new Map();
  let timer = null;

  function setText(id, text) {
    const node = document.getElementById(id);
    if (node) node.textContent = text;
  }

  // A trace is one agent's: its element id (made of agent and trace id) names it, not the
  // traceId alone, which another agent may use too.
  function openTraceIds() {
    return new Set(Array.from(document.querySelectorAll("details.trace[open]"), (d) => d.id));
  }

  function apply(fragments) {
    const open = openTraceIds();
    for (const name of sections) {
      const node = document.getElementById(name);
      if (!node || typeof fragments[name] !== "string") continue;
      if (rendered.get(name) === fragments[name]) continue;
      const focusedId = document.activeElement && document.activeElement.closest("details.trace")
        ? document.activeElement.closest("details.trace").id
        : null;
      node.innerHTML = fragments[name];
      rendered.set(name, fragments[name]);
      for (const details of node.querySelectorAll("details.trace")) {
        if (open.has(details.id)) details.open = true;
        if (focusedId !== null && details.id === focusedId) {
          details.querySelector("summary").focus();
        }
      }
    }
  }

  // Each refresh supersedes the ones still in flight: only the newest answer is applied and
  // only the newest refresh schedules the next, so there is one polling loop at a time.
  let generation = 0;

  // What an error answer says, for a person: its status and the server's reason (the console
  // answers errors as JSON `{"error", "detail"}`; `message` too, from anything in between),
  // cut to MAX_DETAIL characters. Only ever shown as text (`setText`), never as HTML.
  const MAX_DETAIL = 300;

  async function failureOf(response) {
    let said = "";
    try {
      const body = await response.json();
      if (body !== null && typeof body === "object") {
        for (const key of ["detail", "error", "message"]) {
          if (typeof body[key] === "string" && body[key].trim()) {
            said = body[key].trim();
            break;
          }
        }
      }
    } catch {
      // Not JSON (a proxy's page, an empty body): the status alone.
    }
    if (said.length > MAX_DETAIL) said = said.slice(0, MAX_DETAIL) + "\u2026";
    return "HTTP " + response.status + (said ? ": " + said : "");
  }

  async function refresh() {
    const mine = ++generation;
    clearTimeout(timer);
    try {
      const response = await fetch("/console/api/fragments" + window.location.search, {
        headers: { Accept: "application/json" },
        cache: "no-store",
      });
      if (!response.ok) {
        const failure = await failureOf(response);
        if (mine !== generation) return;
        setText("live-status", "the platform answered " + failure + "; retrying");
      } else {
        const fragments = await response.json();
        if (mine !== generation) return;
        apply(fragments);
        setText("live-status", "last updated " + new Date().toLocaleTimeString());
      }
    } catch (error) {
      if (mine !== generation) return;
      setText("live-status", "cannot reach the platform (" + error.message + "); retrying");
    }
    timer = setTimeout(refresh, POLL_MS);
  }

  async function decide(form, button) {
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST",
        headers: {
          Accept: "application/json",
          "Content-Type": "application/x-www-form-urlencoded",
          "X-Tracengent-CSRF": csrfToken,
        },
        body: new URLSearchParams(new FormData(form)).toString(),
      });
      if (response.ok) {
        const a = (await response.json()).approval;
        setText("decide-result", a.permission + " for " + a.agentId + ": " + a.status + ".");
      } else {
        setText("decide-result", "Not decided: " + (await failureOf(response)));
      }
    } catch (error) {
      setText("decide-result", "Not decided: " + error.message);
    } finally {
      button.disabled = false;
    }
    await refresh();
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.matches("form.decide")) {
      event.preventDefault();
      decide(form, event.submitter || form.querySelector("button"));
    } else if (form.id === "filters") {
      event.preventDefault();
      applyFilters(form);
    }
  });

  function applyFilters(form) {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (value) params.set(key, value);
    }
    const query = params.toString();
    window.history.replaceState(null, "", query ? "?" + query : window.location.pathname);
    refresh();
  }

  document.addEventListener("change", (event) => {
    if (event.target.closest("#filters")) applyFilters(document.getElementById("filters"));
  });

  // A link to `#trace-<hash of agent and trace id>` (from an approval) opens that trace.
  function openLinkedTrace() {
    const target = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (target && target.matches("details.trace")) target.open = true;
  }
  window.addEventListener("hashchange", openLinkedTrace);
  openLinkedTrace();

  timer = setTimeout(refresh, POLL_MS);
})();

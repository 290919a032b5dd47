// headrace dashboard: small hand-written script, no build step, no dependency.
// Pages are rendered by the server; this file only localises times, talks to the JSON API,
// and swaps in fresh server-rendered fragments when the SSE stream says something changed.
"use strict";

const KEY_STORAGE = "headrace.apiKey";
const TERMINAL_STATES = new Set(["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]);

// ---- shared helpers -------------------------------------------------------------------
function toast(message, bad) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = bad ? "toast bad" : "toast";
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, bad ? 8000 : 3000);
}

// fetch the JSON API; with auth on, ask for an API key once and keep it in this browser.
async function api(path, options = {}, retried = false) {
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  const key = localStorage.getItem(KEY_STORAGE);
  if (key) headers.Authorization = "Bearer " + key;
  const response = await fetch(path, { ...options, headers });
  if ((response.status === 401 || response.status === 403) && !retried) {
    const entered = window.prompt("This headrace server needs an API key:");
    if (entered) {
      localStorage.setItem(KEY_STORAGE, entered.trim());
      return api(path, options, true);
    }
  }
  let body = null;
  const text = await response.text();
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { detail: text }; }
  if (!response.ok) {
    const error = new Error(errorText(body) || response.statusText);
    error.status = response.status;
    error.body = body;
    throw error;
  }
  return body;
}

function errorText(body) {
  if (!body) return "";
  if (typeof body.detail === "string") return body.detail;
  return JSON.stringify(body.detail ?? body);
}

function localiseTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.textContent = when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
      el.title = el.getAttribute("datetime");
    }
  }
}

// Call `fn` at most once per `ms`, with everything that arrived meanwhile.
function batcher(ms, fn) {
  let pending = [];
  let timer = null;
  return (item) => {
    pending.push(item);
    if (timer) return;
    timer = setTimeout(() => {
      const items = pending;
      pending = [];
      timer = null;
      // A refresh that fails (server restarting, page navigating away) waits for the next event.
      Promise.resolve().then(() => fn(items)).catch((error) => console.warn("refresh:", error));
    }, ms);
  };
}

// One EventSource per page; the browser reconnects by itself and we re-read on reconnect.
// `rereadOnOpen`: re-read on the first open too, for what changed before the stream started.
// `named`: handlers of named events (`event: logs`), given their data.
function liveEvents(url, onEvent, { rereadOnOpen = false, named = {} } = {}) {
  const badge = document.getElementById("live");
  const source = new EventSource(url);
  let everOpen = false;
  source.onopen = () => {
    badge.textContent = "live";
    badge.classList.add("on");
    if (everOpen || rereadOnOpen) onEvent(null); // missed events while disconnected: re-read
    everOpen = true;
  };
  source.onerror = () => { badge.textContent = "reconnecting"; badge.classList.remove("on"); };
  source.onmessage = (msg) => onEvent(JSON.parse(msg.data));
  source.addEventListener("reread", () => onEvent(null));
  for (const [name, handler] of Object.entries(named)) {
    source.addEventListener(name, (msg) => handler(JSON.parse(msg.data)));
  }
  window.addEventListener("pagehide", () => source.close());
  return source;
}

// A re-rendered fragment replaces the focused button: find its twin and give focus back, so a
// keyboard user does not lose their place when the page updates.
function focusKey(root) {
  const el = document.activeElement;
  if (!el || el === document.body || !root.contains(el)) return null;
  for (const attr of ["id", "data-action", "data-copy", "href"]) {
    if (el.hasAttribute(attr)) return `${el.tagName.toLowerCase()}[${attr}="${CSS.escape(el.getAttribute(attr))}"]`;
  }
  return null;
}

function restoreFocus(root, key) {
  if (key) root.querySelector(key)?.focus();
}

async function fetchHtml(url) {
  const response = await fetch(url, { headers: { Accept: "text/html" } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.text();
}

function parseFragment(html, wrapper) {
  const template = document.createElement("template");
  template.innerHTML = wrapper ? `<table><tbody>${html}</tbody></table>` : html;
  return template.content;
}

function copyText(text) {
  const done = () => toast("Copied " + text);
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
}

function fallbackCopy(text, done) {
  const area = document.createElement("textarea");
  area.value = text;
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
  done();
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (button) copyText(button.dataset.copy);
});

// ---- flow runs list -------------------------------------------------------------------
function initRunsPage() {
  const body = document.body;
  const tbody = document.getElementById("run-rows");
  if (!tbody) return;
  const filter = body.dataset.filter;
  const firstPage = body.dataset.firstPage === "true";

  const refresh = batcher(250, async (events) => {
    const visible = new Set([...tbody.rows].map((r) => r.dataset.runId));
    let url = "/runs/rows?" + filter;
    if (!firstPage) {
      // An older page keeps its rows; only rows already shown are brought up to date.
      const ids = events.filter((e) => e && visible.has(e.id)).map((e) => e.id);
      if (!ids.length) return;
      url += ids.map((id) => "&id=" + encodeURIComponent(id)).join("");
    }
    const rows = parseFragment(await fetchHtml(url), true).querySelectorAll("tr");
    const focused = focusKey(tbody);
    if (firstPage) replaceRows(tbody, rows);
    else for (const row of rows) swapRow(tbody, row);
    localiseTimes(tbody);
    restoreFocus(tbody, focused);
    const empty = document.getElementById("runs-empty");
    if (empty) empty.hidden = tbody.rows.length > 0;
  });
  liveEvents("/api/events", refresh, { rereadOnOpen: firstPage });
}

function replaceRows(tbody, rows) {
  const before = new Map([...tbody.rows].map((r) => [r.dataset.runId, r.dataset.state]));
  tbody.replaceChildren(...rows);
  for (const row of tbody.rows) {
    if (before.get(row.dataset.runId) !== row.dataset.state) row.classList.add("fresh");
  }
}

function swapRow(tbody, row) {
  const old = tbody.querySelector(`tr[data-run-id="${row.dataset.runId}"]`);
  if (!old) return;
  if (old.dataset.state !== row.dataset.state) row.classList.add("fresh");
  old.replaceWith(row);
}

// ---- one flow run ---------------------------------------------------------------------
const LEVELS = { 10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL" };

function initRunPage() {
  const runId = document.body.dataset.runId;
  const logs = initLogTail(runId);
  let live = document.getElementById("run-live");
  let busy = false;
  let again = false;

  function rerender() {
    return rerenderOnce().catch((error) => console.warn("refresh:", error));
  }

  // Swap in the server-rendered run fragment (state, timings, task bars and table, history).
  async function rerenderOnce() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const html = await fetchHtml(`/runs/${runId}?part=live`);
      const fresh = parseFragment(html).getElementById("run-live");
      const openTable = live.querySelector("details.task-table")?.open;
      if (openTable !== undefined) {
        const details = fresh.querySelector("details.task-table");
        if (details) details.open = openTable;
      }
      const focused = focusKey(live);
      live.replaceWith(fresh);
      live = fresh;
      localiseTimes(live);
      restoreFocus(live, focused);
    } finally {
      busy = false;
      if (again) { again = false; rerender(); }
    }
  }

  // No polling: the server says when something of this run changed. State changes and task-run
  // batches re-render the fragment; log batches fetch only the lines after the last one shown.
  const rerenderSoon = batcher(150, rerender);
  const pullSoon = batcher(100, () => logs.pull());
  liveEvents("/api/events?flow_run=" + encodeURIComponent(runId), (event) => {
    rerenderSoon(event);
    if (event === null) pullSoon(event); // reconnected: anything may have been missed
  }, {
    rereadOnOpen: true, // covers what changed between rendering the page and subscribing
    named: { task_runs: rerenderSoon, logs: pullSoon, events: rerenderSoon },
  });
  logs.pull();
  followArtifacts();

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    button.disabled = true;
    try {
      if (button.dataset.action === "cancel") {
        if (!window.confirm("Cancel this flow run?")) return;
        await api(`/api/flow_runs/${runId}/cancel`, { method: "POST", body: "{}" });
        toast("Cancelling…");
        rerender();
      } else if (button.dataset.action === "retry") {
        // Same parameters, secrets included (needs a key that may start runs anyway).
        const run = await api(`/api/flow_runs/${runId}?reveal_secrets=true`);
        const created = await api(`/api/deployments/${button.dataset.deploymentId}/runs`, {
          method: "POST",
          body: JSON.stringify({ parameters: run.parameters }),
        });
        window.location.href = "/runs/" + created.id;
      }
    } catch (error) {
      toast(error.status === 404 && button.dataset.action === "cancel"
        ? "This server cannot cancel runs yet: " + error.message : error.message, true);
    } finally {
      button.disabled = false;
    }
  });
}

// A run's Artifacts section: progress bars and new artifacts show up while the run is active
// (re-fetched every 2 s; artifacts send no events), and once more after it ends.
function followArtifacts() {
  const ARTIFACT_POLL_MS = 2000;
  async function refresh() {
    const section = document.getElementById("run-artifacts");
    if (!section) return;
    const finished = TERMINAL_STATES.has(document.getElementById("run-live")?.dataset.state);
    try {
      if (!document.hidden) {
        const fresh = parseFragment(await fetchHtml(section.dataset.src)).getElementById("run-artifacts");
        if (fresh) { section.replaceWith(fresh); localiseTimes(fresh); }
      }
    } catch (error) {
      console.warn("artifacts:", error);
    }
    if (!finished) setTimeout(refresh, ARTIFACT_POLL_MS);
  }
  if (!TERMINAL_STATES.has(document.getElementById("run-live")?.dataset.state)) {
    setTimeout(refresh, ARTIFACT_POLL_MS);
  }
}

function initLogTail(runId) {
  const list = document.getElementById("logs");
  const empty = document.getElementById("logs-empty");
  const level = document.getElementById("log-level");
  const search = document.getElementById("log-search");
  const follow = document.getElementById("log-follow");
  let after = null;
  let pulling = null;
  let pullAgain = false;

  function visible(li) {
    const needle = search.value.trim().toLowerCase();
    return Number(li.dataset.level) >= Number(level.value) &&
      (!needle || li.dataset.text.includes(needle));
  }

  function applyFilter() {
    let shown = 0;
    for (const li of list.children) { li.hidden = !visible(li); if (!li.hidden) shown++; }
    empty.hidden = shown > 0;
    empty.textContent = list.children.length ? "No log lines match." : "No log lines yet.";
  }

  function lineFor(log) {
    const li = document.createElement("li");
    const name = LEVELS[log.level] || "L" + log.level;
    li.dataset.level = log.level;
    li.dataset.id = log.id;
    li.dataset.text = (log.message + " " + log.name).toLowerCase();
    const ts = document.createElement("span");
    ts.className = "ts";
    ts.textContent = new Date(log.timestamp).toLocaleTimeString() + " ";
    const lvl = document.createElement("span");
    lvl.className = "lvl lvl-" + name.toLowerCase();
    lvl.textContent = name;
    const msg = document.createTextNode(" " + log.message + " ");
    const src = document.createElement("span");
    src.className = "src small";
    src.textContent = log.name;
    li.append(ts, lvl, msg, src);
    li.hidden = !visible(li);
    return li;
  }

  async function pullOnce() {
    for (;;) {
      const q = after === null ? "" : "&after=" + after;
      const page = await api(`/api/flow_runs/${runId}/logs?limit=1000${q}`);
      if (!page.items.length) break;
      const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
      list.append(...page.items.map(lineFor));
      after = page.next_after;
      if (follow.checked && atBottom) list.scrollTop = list.scrollHeight;
      if (page.items.length < 1000) break;
    }
    applyFilter();
  }

  level.addEventListener("change", applyFilter);
  search.addEventListener("input", applyFilter);
  // One read at a time; a request to pull during a read runs once more after it, since the
  // read in flight may have started before the new lines were committed.
  function pull() {
    if (pulling) { pullAgain = true; return pulling; }
    pulling = pullOnce()
      .catch((e) => toast("Logs: " + e.message, true))
      .finally(() => {
        pulling = null;
        if (pullAgain) { pullAgain = false; pull(); }
      });
    return pulling;
  }
  return { pull };
}

// ---- overview and the other summary pages ----------------------------------------------
// These summarise many runs: re-render the page's main part at most every 2 s while runs change.
function initLivePage() {
  const refresh = batcher(2000, async () => {
    const doc = parseFragment(await fetchHtml(window.location.href));
    const fresh = doc.querySelector("main");
    if (fresh) {
      document.querySelector("main").replaceChildren(...fresh.childNodes);
      localiseTimes(document.querySelector("main"));
    }
  });
  liveEvents("/api/events", refresh);
  return refresh;
}

const initOverviewPage = initLivePage;

// Slots are taken and given back without any run event: the limits page also re-reads itself
// every few seconds, so its slot counts stay live.
function initLimitsPage() {
  const refresh = initLivePage();
  setInterval(() => refresh(null), 3000);
}

// ---- a deployment: Run form and its runs live (pause buttons: data-patch, below) ---------
function initDeploymentPage() {
  const deploymentId = document.body.dataset.deploymentId;
  const form = document.getElementById("run-form");
  initRunsPage();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const { parameters, ok } = readParameters(form);
    if (!ok) return;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const run = await api(`/api/deployments/${deploymentId}/runs`, {
        method: "POST",
        body: JSON.stringify({ parameters }),
      });
      window.location.href = "/runs/" + run.id;
    } catch (error) {
      showServerErrors(form, error.message);
    } finally {
      button.disabled = false;
    }
  });
}

function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function fieldError(form, name, message) {
  const field = form.querySelector(`.field[data-name="${CSS.escape(name)}"]`);
  if (!field) return false;
  const input = field.querySelector("input, select, textarea");
  input.setAttribute("aria-invalid", "true");
  field.querySelector(".field-error").textContent = message;
  return true;
}

// Read the typed inputs back into JSON values; mark what cannot be read, inline.
function readParameters(form) {
  const parameters = {};
  let ok = true;
  for (const field of form.querySelectorAll(".field")) {
    const name = field.dataset.name;
    const kind = field.dataset.kind;
    const input = field.querySelector("input, select, textarea");
    if (kind === "boolean") { parameters[name] = input.checked; continue; }
    if (kind === "name") continue;
    // A secret is taken as typed (spaces included), never parsed.
    const raw = kind === "secret" ? input.value : input.value.trim();
    if (raw === "") {
      if (input.required) { fieldError(form, name, "required"); ok = false; }
      continue; // left empty: the deployment's default applies
    }
    let value = raw;
    if (kind === "integer" || kind === "number") {
      value = Number(raw);
      if (Number.isNaN(value) || (kind === "integer" && !Number.isInteger(value))) {
        fieldError(form, name, `expected ${kind === "integer" ? "a whole number" : "a number"}, got ${JSON.stringify(raw)}`);
        ok = false;
        continue;
      }
    } else if (kind === "json") {
      try { value = JSON.parse(raw); } catch (e) {
        fieldError(form, name, "not valid JSON: " + e.message);
        ok = false;
        continue;
      }
    }
    parameters[name] = value;
  }
  return { parameters, ok };
}

// The server names each bad value as `PREFIX.NAME: why`; put each by its field.
function showServerErrors(form, message, prefix = "parameters") {
  const rest = [];
  const pattern = new RegExp("^" + prefix.replace(/\./g, "\\.") + "\\.([^.:]+)[^:]*: (.*)$", "s");
  for (const part of message.split("; ")) {
    const match = pattern.exec(part);
    if (!(match && fieldError(form, match[1], match[2]))) rest.push(part);
  }
  form.querySelector("#form-error").textContent = rest.join("; ");
}

// Pause/resume buttons (deployments, their schedules, pools, queues): PATCH the JSON body the
// button carries to the path it names, then show the page as it now is.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-patch]");
  if (!button) return;
  button.disabled = true;
  try {
    await api(button.dataset.patch, { method: "PATCH", body: button.dataset.body });
    window.location.reload();
  } catch (error) {
    toast(error.message, true);
    button.disabled = false;
  }
});

// Variables page: the form sets (creates or replaces) a variable through the API; Edit fills
// the form with a variable, Delete removes one.
function initVariablesPage() {
  const form = document.getElementById("variable-form");
  const error = document.getElementById("variable-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const name = form.elements.name.value.trim();
    const raw = form.elements.value.value;
    let value;
    try { value = JSON.parse(raw); } catch (e) { value = raw; }
    const tags = form.elements.tags.value.split(",").map((t) => t.trim()).filter(Boolean);
    if (!name) { error.textContent = "A name is required."; return; }
    try {
      // Created by POST (which checks the name in the body: a name with "/" cannot be a URL
      // path); an existing one is replaced by PUT.
      try {
        await api("/api/variables", { method: "POST", body: JSON.stringify({ name, value, tags }) });
      } catch (failure) {
        if (failure.status !== 409) throw failure;
        await api("/api/variables/" + encodeURIComponent(name), {
          method: "PUT", body: JSON.stringify({ value, tags }),
        });
      }
      window.location.reload();
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  document.addEventListener("click", async (event) => {
    const edit = event.target.closest("button[data-edit-variable]");
    if (edit) {
      form.elements.name.value = edit.dataset.editVariable;
      form.elements.value.value = edit.dataset.value;
      form.elements.tags.value = edit.dataset.tags;
      form.elements.value.focus();
      return;
    }
    const remove = event.target.closest("button[data-delete-variable]");
    if (!remove) return;
    if (!window.confirm(`Delete variable ${remove.dataset.deleteVariable}?`)) return;
    try {
      await api("/api/variables/" + encodeURIComponent(remove.dataset.deleteVariable), { method: "DELETE" });
      window.location.reload();
    } catch (failure) {
      toast(failure.message, true);
    }
  });
}

// ---- a block: create/edit form generated from its type's schema, delete -------------------
function initBlockPage() {
  const form = document.getElementById("block-form");
  const slug = document.body.dataset.blockType;
  const existing = document.body.dataset.blockName;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const { parameters, ok } = readParameters(form);
    const name = existing ?? document.getElementById("block-name").value.trim();
    if (!name) {
      document.getElementById("block-name-error").textContent = "required";
      return;
    }
    if (!ok) return;
    // Write-only fields left empty when editing keep what the server stores.
    const keep = existing === undefined ? [] : [...form.querySelectorAll('.field[data-kind="secret"]')]
      .filter((f) => f.querySelector("input, textarea").value === "")
      .map((f) => f.dataset.name);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api("/api/block_documents", {
        method: "POST",
        body: JSON.stringify({
          block_type_slug: slug, name, data: parameters,
          overwrite: existing !== undefined, keep_secrets: keep,
        }),
      });
      window.location.href = `/blocks/${encodeURIComponent(slug)}/${encodeURIComponent(name)}`;
    } catch (error) {
      showServerErrors(form, error.message, "body.data");
    } finally {
      button.disabled = false;
    }
  });
  const remove = document.getElementById("block-delete");
  if (remove) {
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Delete the ${slug} block ${existing}?`)) return;
      try {
        await api(`/api/block_documents/${encodeURIComponent(slug)}/${encodeURIComponent(existing)}`, { method: "DELETE" });
        window.location.href = "/blocks";
      } catch (error) {
        toast(error.message, true);
      }
    });
  }
}

// Events: new events matching the page's name prefix are added on top as they are stored. The
// stream starts after the newest event the server rendered, so none is missed or shown twice.
function initEventsPage() {
  const tbody = document.getElementById("event-rows");
  const params = new URLSearchParams({ after: document.body.dataset.after || "0" });
  if (document.body.dataset.prefix) params.set("name", document.body.dataset.prefix);
  const cell = (text, code) => {
    const td = document.createElement("td");
    const inner = code ? document.createElement("code") : td;
    inner.textContent = text;
    if (code) td.appendChild(inner);
    return td;
  };
  liveEvents("/api/event_feed/stream?" + params, () => {}, {
    named: {
      event: (e) => {
        const tr = document.createElement("tr");
        tr.dataset.event = e.event;
        const when = document.createElement("time");
        when.setAttribute("datetime", e.occurred);
        const first = document.createElement("td");
        first.appendChild(when);
        const payload = JSON.stringify(e.payload);
        tr.append(first, cell(e.event), cell(e.resource["headrace.resource.id"], true),
          cell(payload.length > 120 ? payload.slice(0, 117) + "..." : payload, true));
        tr.lastChild.className = "hide-narrow";
        tbody.prepend(tr);
        localiseTimes(tr);
        while (tbody.rows.length > 500) tbody.deleteRow(-1);
        document.getElementById("no-events").hidden = true;
      },
    },
  });
}

const PAGES = {
  block: initBlockPage,
  runs: initRunsPage,
  run: initRunPage,
  overview: initOverviewPage,
  deployment: initDeploymentPage,
  pools: initLivePage,
  deployments: initLivePage,
  limits: initLimitsPage,
  variables: initVariablesPage,
  events: initEventsPage,
  artifacts: initLivePage, // new artifacts come with runs: re-read when runs change
};

document.addEventListener("DOMContentLoaded", () => {
  localiseTimes(document);
  const init = PAGES[document.body.dataset.page];
  if (init) init();
  if (window.headracePage) window.headracePage();
});

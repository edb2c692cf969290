// A run: live progress of each component (server-sent events), errors in words, cancel and
// retry; once it is done, its results (pages/results.js).
//
// A browser's EventSource cannot send an Authorization header, so the page asks the API for a
// short-lived signed link to the run's event stream (POST /v1/runs/{id}/events-link) and
// opens that; when the browser gives up on a stream (the link expired, the server restarted),
// the page asks for a new link, and after repeated failures polls instead.

import { ApiError, api, idempotencyKey } from "../api.js";
import { navigate, showError } from "../router.js";
import { formatDuration, h, messageArea, progressBar, setTitle, statusBadge } from "../ui.js";
import { drawResults } from "./results.js";

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
const POLL_MS = 2000;
const STREAM_FAILURES_BEFORE_POLLING = 3;

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

function componentItem(component) {
  const done = ["succeeded", "cached", "edited"].includes(component.status);
  const percent = done ? 100 : component.progress * 100;
  const took = component.duration_seconds !== null ? ` · ${formatDuration(component.duration_seconds)}` : "";
  return h(
    "li",
    { class: `component-progress status-${component.status}` },
    h("div", { class: "component-head" }, h("strong", {}, component.name), statusBadge(component.status), h("span", { class: "muted small" }, took)),
    progressBar(`${component.name} progress`, percent),
    component.message && component.status === "running" ? h("p", { class: "muted small" }, component.message) : null,
    component.error ? h("p", { class: "error" }, `${component.name} failed: ${component.error}`) : null,
  );
}

/** What went wrong, said so that the user knows what to do next. */
function failureWords(run) {
  const failed = run.components.find((component) => component.status === "failed");
  const where = failed ? `at ${failed.name}` : "";
  const why = failed?.error || run.error || "no reason was recorded";
  return `This run failed ${where}: ${why}. Retry starts it again with the same settings; if it fails the same way, the video itself may be the cause.`;
}

/**
 * The run's settings as `params` for the same profile: its config holds every parameter a run
 * may set (those the profile lists) and some that components derive from the server's
 * settings, which cannot be sent.
 */
async function settingsOf(run) {
  const profile = await api(`/v1/profiles/${encodeURIComponent(run.profile_name)}`);
  const settings = {};
  for (const [component, values] of Object.entries(run.config)) {
    const settable = profile.parameters[component];
    if (!settable) continue;
    settings[component] = Object.fromEntries(Object.entries(values).filter(([name]) => name in settable));
  }
  return settings;
}

export async function render(main, { params, signal }) {
  const id = encodeURIComponent(params.id);
  let run = await api(`/v1/runs/${id}`, { signal });
  const video = await api(`/v1/videos/${encodeURIComponent(run.video_id)}`, { signal }).catch(() => null);
  const videoName = video?.filename ?? run.video_id;
  setTitle(`Run of ${videoName}`);

  const overall = progressBar("Run progress", run.progress);
  const status = h("p", { role: "status", class: "run-status" });
  const connection = h("p", { class: "muted small", "aria-live": "polite" });
  const failure = h("div", {});
  const components = h("ol", { class: "components-progress", "aria-label": "Components" });
  const actions = h("div", { class: "actions" });
  const message = messageArea();
  const results = h("div", { class: "results" });

  const cancel = h("button", { type: "button", class: "danger" }, "Cancel run");
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      update(await api(`/v1/runs/${id}/cancel`, { method: "POST" }));
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      message.show(error.message);
    } finally {
      cancel.disabled = false;
    }
  });
  const retry = h("button", { type: "button", class: "primary" }, "Retry");
  retry.addEventListener("click", async () => {
    retry.disabled = true;
    try {
      const again = await api("/v1/runs", {
        method: "POST",
        headers: { "Idempotency-Key": idempotencyKey() },
        json: { video_id: run.video_id, profile: run.profile_name, params: await settingsOf(run) },
      });
      await navigate(`/runs/${encodeURIComponent(again.id)}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      message.show(error.status === 404 ? `Cannot retry: ${error.message}` : error.message);
      retry.disabled = false;
    }
  });

  let shownStatus = null;
  function update(next) {
    run = next;
    overall.set(run.progress);
    if (run.status !== shownStatus) {
      shownStatus = run.status;
      const cached = run.cached_from_run_id ? " (reused from an identical earlier run)" : "";
      status.replaceChildren(statusBadge(run.status), cached);
    }
    components.replaceChildren(...run.components.map(componentItem));
    failure.replaceChildren();
    if (run.status === "failed") failure.append(h("p", { class: "error", role: "alert" }, failureWords(run)));
    if (run.status === "cancelled") failure.append(h("p", { class: "notice" }, "This run was cancelled. Retry starts it again."));
    if (run.status === "awaiting_review") {
      failure.append(
        h(
          "p",
          { class: "notice", role: "status" },
          "This run waits for you: check what it made so far, correct it, then let it go on. ",
          h("a", { href: `/runs/${id}/review`, class: "button primary" }, "Review"),
        ),
      );
    }
    actions.replaceChildren(
      ...(FINISHED.has(run.status) ? [] : [cancel]),
      ...(run.status === "failed" || run.status === "cancelled" ? [retry] : []),
      h("a", { href: `/videos/${encodeURIComponent(run.video_id)}/runs/new`, class: "button" }, "New run of this video"),
    );
  }

  /** One event stream until it ends (true) or the browser gives up on it (false). */
  async function stream() {
    const link = await api(`/v1/runs/${id}/events-link`, { method: "POST", signal });
    return new Promise((resolve) => {
      const source = new EventSource(link.url);
      const stop = (ended) => {
        source.close();
        resolve(ended);
      };
      signal.addEventListener("abort", () => stop(true));
      source.addEventListener("update", (event) => {
        connection.textContent = "";
        update(JSON.parse(event.data));
      });
      source.addEventListener("end", () => stop(true));
      source.addEventListener("error", () => {
        if (source.readyState === EventSource.CLOSED) stop(false);
        else connection.textContent = "Connection lost; reconnecting…";
      });
    });
  }

  async function follow() {
    let failures = 0;
    while (!signal.aborted && !FINISHED.has(run.status)) {
      if (failures < STREAM_FAILURES_BEFORE_POLLING && window.EventSource) {
        if (!(await stream())) {
          failures += 1;
          await sleep(1000 * 2 ** failures, signal);
        }
        if (signal.aborted) return;
        update(await api(`/v1/runs/${id}`, { signal }));
      } else {
        await sleep(POLL_MS, signal);
        if (!signal.aborted) update(await api(`/v1/runs/${id}`, { signal }));
      }
    }
    if (!signal.aborted && run.status === "succeeded") await drawResults(results, run, signal, { duration: video?.duration_seconds });
  }

  main.append(
    h(
      "p",
      { class: "crumbs" },
      h("a", { href: "/videos" }, "Videos"),
      " / ",
      h("a", { href: `/videos/${encodeURIComponent(run.video_id)}` }, videoName),
      " / ",
    ),
    h("h1", {}, `Run of ${videoName}`),
    h("p", { class: "muted" }, `Profile ${run.profile_name} · run ${run.id}`),
    run.parent_run_id
      ? h("p", { class: "notice" }, "A re-render of ", h("a", { href: `/runs/${encodeURIComponent(run.parent_run_id)}` }, "an earlier run"), " with your fixes: only what they touch is made again.")
      : null,
    h("section", { class: "card", "aria-labelledby": "progress-heading" }, h("h2", { id: "progress-heading" }, "Progress"), status, overall, connection, failure, actions, message, components),
    results,
  );
  update(run);
  follow().catch((error) => {
    if (error.name === "AbortError" || signal.aborted) return;
    if (!(error instanceof ApiError)) return showError(error); // signed out, API down
    connection.textContent = `Live progress stopped: ${error.message}. Reload the page to see the latest state.`;
  });
}

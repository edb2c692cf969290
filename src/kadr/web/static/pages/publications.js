// Publications: what goes out where and when, by day in your time zone. Each says its status,
// why it waits (the platform's pacing or daily quota: status_detail), how much is uploaded,
// the link once published, the error once failed; reschedule (PATCH publish_at) or cancel one
// still scheduled, retry a failed one. The page refreshes itself while something is under way.

import { ApiError, api } from "../api.js";
import {
  currentTimeZone,
  dangerButton,
  dayKey,
  field,
  formatClock,
  formatDate,
  formatDay,
  fromZonedInput,
  h,
  messageArea,
  progressBar,
  setTitle,
  statusBadge,
  toZonedInput,
} from "../ui.js";

const POLL_MS = 3000;
const UNDER_WAY = new Set(["queued", "publishing"]);

function refused(error, message) {
  if (!(error instanceof ApiError) || error.status >= 500) throw error;
  message.show(error.status === 409 ? `Not changed: ${error.message}.` : error.message);
}

function reschedule(publication, message, reload) {
  const input = h("input", { type: "datetime-local", required: true, value: toZonedInput(publication.publish_at) });
  const save = h("button", { type: "submit" }, "Save time");
  const form = h(
    "form",
    { class: "row reschedule" },
    field(`New time (${currentTimeZone()})`, input),
    save,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.clear();
    save.disabled = true;
    try {
      const changed = await api(`/v1/publications/${encodeURIComponent(publication.id)}`, {
        method: "PATCH",
        json: { publish_at: fromZonedInput(input.value) },
      });
      await reload(`“${changed.title}” now goes out ${formatDate(changed.publish_at)}.`);
    } catch (error) {
      refused(error, message);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function item(publication, channels, reload) {
  const message = messageArea();
  const channel = channels.get(publication.channel_id);
  const base = `/v1/publications/${encodeURIComponent(publication.id)}`;
  const act = (path, text) => async () => {
    message.clear();
    try {
      const changed = await api(`${base}/${path}`, { method: "POST" });
      await reload(text(changed));
    } catch (error) {
      refused(error, message);
    }
  };
  const actions = [];
  if (publication.status === "scheduled" || publication.status === "queued") {
    actions.push(
      dangerButton("Cancel", "Press again to cancel it", `Cancel “${publication.title}”`, act("cancel", (p) => `“${p.title}” was cancelled.`)),
    );
  }
  if (publication.status === "failed") {
    const retry = h("button", { type: "button", "aria-label": `Retry “${publication.title}”` }, "Retry");
    retry.addEventListener("click", act("retry", (p) => `“${p.title}” is queued again.`));
    actions.push(retry);
  }
  const details = [];
  if (publication.status_detail) details.push(h("p", { class: "detail" }, sentence(publication.status_detail)));
  if (publication.error) details.push(h("p", { class: "error" }, publication.error));
  if (publication.status === "publishing" || (UNDER_WAY.has(publication.status) && publication.uploaded_bytes)) {
    details.push(progressBar(`Uploaded of “${publication.title}”`, publication.percent));
  }
  if (publication.status === "published") {
    details.push(
      publication.external_url
        ? h("p", {}, h("a", { href: publication.external_url, target: "_blank", rel: "noopener" }, `Open it on ${channel?.kind === "youtube" ? "YouTube" : "the platform"}`))
        : h("p", { class: "muted" }, `Delivered ${formatDate(publication.published_at)}.`),
    );
  }
  return h(
    "li",
    { class: `publication status-${publication.status}`, "data-publication": publication.id },
    h("p", { class: "when" }, h("time", { datetime: publication.publish_at }, formatClock(publication.publish_at))),
    h(
      "div",
      { class: "what" },
      h("div", { class: "heading-row" }, h("h3", {}, publication.title), badge(publication.status)),
      h("p", { class: "muted small" }, `To ${channel ? channel.name : "a deleted channel"} · ${publication.privacy}`),
      details,
      publication.status === "scheduled" ? reschedule(publication, message, reload) : null,
      actions.length ? h("div", { class: "actions" }, actions) : null,
      message,
    ),
  );
}

const INSTANT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})/g;

function interval(seconds) {
  const n = Number(seconds);
  if (n >= 3600 && n % 3600 === 0) return n === 3600 ? "hour" : `${n / 3600} hours`;
  if (n >= 60 && n % 60 === 0) return n === 60 ? "minute" : `${n / 60} minutes`;
  return `${seconds} s`;
}

/** The API's reason (pacing, quota) as a sentence, its instants on the user's clock:
 * "waiting for … at 2026-05-01T22:00:00+00:00 (one upload per 60 s)" → "Waiting for … at
 * May 1, 2026, 10:00 PM (one upload per minute)." */
function sentence(text) {
  const words = text.trim().replace(INSTANT, (iso) => formatDate(iso)).replace(/per (\d+(?:\.\d+)?) s\b/g, (_, n) => `per ${interval(n)}`);
  const start = words.charAt(0).toUpperCase() + words.slice(1);
  return /[.!?]$/.test(start) ? start : `${start}.`;
}

/** For a publication, `queued` means "in line" (for a worker, a slot or the quota). */
function badge(status) {
  return status === "queued" ? h("span", { class: "badge badge-queued" }, "In line") : statusBadge(status);
}

function byDay(publications) {
  const days = new Map();
  for (const publication of publications) {
    const key = dayKey(publication.publish_at);
    if (!days.has(key)) days.set(key, []);
    days.get(key).push(publication);
  }
  return days;
}

export async function render(main, { signal }) {
  setTitle("Publications");
  const news = h("div", { "aria-live": "polite" });
  const list = h("div", { class: "calendar" });
  let timer = null;
  const draw = (publications, channels) => {
    if (!publications.length) {
      list.replaceChildren(
        h(
          "p",
          { class: "empty" },
          "Nothing scheduled yet. Connect a channel on ",
          h("a", { href: "/channels" }, "Channels"),
          ", then publish a clip from a run's page (or with POST /v1/publications).",
        ),
      );
      return;
    }
    const today = dayKey(new Date().toISOString());
    list.replaceChildren(
      ...[...byDay(publications)].map(([key, items]) =>
        h(
          "section",
          { class: "day", "aria-labelledby": `day-${key}` },
          h("h2", { id: `day-${key}` }, key === today ? `Today, ${formatDay(items[0].publish_at)}` : formatDay(items[0].publish_at)),
          h("ol", { class: "publications" }, items.map((publication) => item(publication, channels, reload))),
        ),
      ),
    );
  };
  const load = async () => {
    const [page, channelPage] = await Promise.all([
      api("/v1/publications?limit=200", { signal }),
      api("/v1/channels?limit=200", { signal }),
    ]);
    const channels = new Map(channelPage.items.map((channel) => [channel.id, channel]));
    return { publications: page.items, total: page.total, channels };
  };
  const reload = async (text = null) => {
    const { publications, channels } = await load();
    draw(publications, channels);
    news.replaceChildren(text ? h("p", { class: "success", role: "status" }, text) : "");
    schedule(publications);
  };
  // While something is queued or uploading, look again (and stop when the user leaves).
  const schedule = (publications) => {
    clearTimeout(timer);
    if (signal.aborted || !publications.some((p) => UNDER_WAY.has(p.status))) return;
    timer = setTimeout(async () => {
      try {
        const { publications: now, channels } = await load();
        if (!list.contains(document.activeElement)) draw(now, channels); // never under the user's hands
        schedule(now);
      } catch (error) {
        if (error.name !== "AbortError") schedule(publications);
      }
    }, POLL_MS);
  };
  signal.addEventListener("abort", () => clearTimeout(timer));
  const first = await load();
  draw(first.publications, first.channels);
  schedule(first.publications);
  main.append(
    h("h1", {}, "Publications"),
    h("p", { class: "muted" }, `Soonest first, by day; times in ${currentTimeZone()}.`),
    news,
    h("p", { class: "visually-hidden" }, `${first.total} publications`),
    list,
  );
}

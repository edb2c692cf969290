// The notifications inbox: what happened to your account and what you made, newest first;
// unread ones marked, mark one or all read (the header's count follows), a link to what each
// is about. Where they are also sent (email, Telegram, webhooks) is /inbox/settings.

import { api } from "../api.js";
import { formatDate, h, setTitle } from "../ui.js";

const PAGE_SIZE = 50;

/** The same titles as the emails (kadr/notifications/outbox.py). */
export const EVENT_TITLES = {
  "run.succeeded": "Run finished",
  "run.failed": "Run failed",
  "run.dead": "Run gave up after retries",
  "publication.published": "Published",
  "publication.failed": "Publication failed",
  "channel.needs_reauth": "Channel needs to be reconnected",
  "user.registered": "Welcome to kadr",
  "scenario.generated": "Scenario written",
  "scenario.shared": "Scenario shared",
};

const DETAILS = [
  ["Title", "title"],
  ["Channel", "channel_name"],
  ["Video", "filename"],
  ["Profile", "profile"],
  ["Shared by", "shared_by"],
  ["Reason", "reason"],
  ["Error", "error"],
];

function subjectLink(event) {
  const data = event.data || {};
  if (data.run_id) return ["/runs/" + encodeURIComponent(data.run_id), "Open the run"];
  if (data.scenario_id) return ["/scenarios/" + encodeURIComponent(data.scenario_id), "Open the scenario"];
  if (data.publication_id) return ["/publications", "See publications"];
  if (data.channel_id) return ["/channels", "See channels"];
  if (event.type === "user.registered") return ["/videos", "Upload a video"];
  return null;
}

function deliveries(event) {
  if (!event.deliveries?.length) return null;
  const words = event.deliveries.map((d) => `${d.transport} to ${d.target}: ${d.status}${d.last_error ? ` (${d.last_error})` : ""}`);
  return h("p", { class: "muted small" }, "Sent by ", words.join("; "));
}

function eventItem(event, onRead) {
  const unread = !event.read_at;
  const title = EVENT_TITLES[event.type] ?? event.type;
  const data = event.data || {};
  const link = subjectLink(event);
  const mark = unread
    ? h("button", { type: "button", "aria-label": `Mark “${title}” read` }, "Mark read")
    : null;
  mark?.addEventListener("click", async () => {
    mark.disabled = true;
    onRead(await api(`/v1/notifications/${encodeURIComponent(event.id)}/read`, { method: "POST" }));
  });
  return h(
    "li",
    { class: `event${unread ? " unread" : ""}`, "data-event": event.id },
    h(
      "div",
      { class: "heading-row" },
      h("h3", {}, unread ? h("span", { class: "badge badge-unread" }, "New") : null, unread ? " " : null, title),
      h("time", { datetime: event.created_at, class: "muted small" }, formatDate(event.created_at)),
    ),
    h(
      "dl",
      { class: "facts-list" },
      DETAILS.filter(([, key]) => data[key]).map(([label, key]) => [h("dt", {}, label), h("dd", {}, String(data[key]))]),
      event.type === "scenario.shared" && data.kind === "link"
        ? [h("dt", {}, "Shared as"), h("dd", {}, "a read-only link you made")]
        : null,
    ),
    deliveries(event),
    h("div", { class: "actions" }, link ? h("a", { href: link[0] }, link[1]) : null, mark),
  );
}

export async function render(main, { query, signal }) {
  setTitle("Inbox");
  const offset = Math.max(0, Number(query.get("offset")) || 0);
  const page = await api(`/v1/notifications?limit=${PAGE_SIZE}&offset=${offset}`, { signal });
  const news = h("div", { "aria-live": "polite" });
  const list = h("ol", { class: "events" });
  const readAll = h("button", { type: "button" }, "Mark all read");
  const unreadCount = () => list.querySelectorAll(".event.unread").length;
  const counted = h("p", { class: "muted" });
  const recount = () => {
    const count = unreadCount();
    counted.textContent = count ? `${count} unread on this page.` : "Nothing unread.";
    readAll.disabled = count === 0;
    window.dispatchEvent(new Event("kadr:unread")); // the header's count
  };
  const replace = (event) => {
    const old = list.querySelector(`[data-event="${CSS.escape(event.id)}"]`);
    const fresh = eventItem(event, replace);
    old?.replaceWith(fresh);
    fresh.querySelector("h3").tabIndex = -1;
    fresh.querySelector("h3").focus(); // the button that had focus is gone
    recount();
  };
  list.append(...page.items.map((event) => eventItem(event, replace)));
  readAll.addEventListener("click", async () => {
    readAll.disabled = true;
    const marked = await api("/v1/notifications/read-all", { method: "POST" });
    const now = new Date().toISOString();
    for (const item of page.items) if (!item.read_at) item.read_at = now;
    list.replaceChildren(...page.items.map((event) => eventItem(event, replace)));
    news.replaceChildren(h("p", { class: "success", role: "status" }, `Marked ${marked.marked} read.`));
    recount();
  });
  const pager = [];
  if (offset > 0) pager.push(h("a", { href: `/inbox?offset=${Math.max(0, offset - PAGE_SIZE)}` }, "Newer"));
  if (offset + page.items.length < page.total) pager.push(h("a", { href: `/inbox?offset=${offset + PAGE_SIZE}` }, "Older"));
  main.append(
    h("div", { class: "heading-row" }, h("h1", {}, "Inbox"), h("a", { href: "/inbox/settings", class: "button" }, "Notification settings")),
    counted,
    news,
  );
  if (page.items.length) main.append(h("div", { class: "actions" }, readAll), list);
  else main.append(h("p", { class: "empty" }, "Nothing here yet. Runs that finish, publications that go out and scenarios shared with you show up here."));
  if (pager.length) main.append(h("nav", { class: "pager", "aria-label": "Pages of notifications" }, pager));
  recount();
}

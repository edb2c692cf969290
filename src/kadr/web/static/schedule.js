// Schedule a run's clip to one of the user's channels (POST /v1/publications), and follow the
// clip's publications: their status polled every few seconds until each is published, failed
// or cancelled, with the link the platform gave.

import { ApiError, api, idempotencyKey } from "./api.js";
import { field, formatDate, h, messageArea, statusBadge } from "./ui.js";

const POLL_MS = 3000;
const SETTLED = new Set(["published", "failed", "cancelled"]);

/** A datetime-local value for `date` in the browser's time zone (what the input shows). */
function localValue(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function publicationItem(publication, clipName, channels) {
  const channel = channels.get(publication.channel_id);
  const detail = publication.error || publication.status_detail;
  return h(
    "li",
    { class: "publication", "data-status": publication.status },
    h("div", { class: "component-head" }, h("strong", {}, publication.title), statusBadge(publication.status)),
    h("p", { class: "muted small" }, `${clipName} to ${channel ? channel.name : "a channel"} · ${formatDate(publication.publish_at)}`),
    detail ? h("p", { class: publication.status === "failed" ? "error" : "muted small" }, detail) : null,
    publication.external_url ? h("p", {}, h("a", { href: publication.external_url, target: "_blank", rel: "noopener" }, "Open the published post")) : null,
  );
}

/** The Schedule card for the run's clips (`clips`: [{name, artifact, title}]). */
export async function schedulePanel(clips, signal) {
  const channelList = (await api("/v1/channels?limit=200", { signal })).items;
  const channels = new Map(channelList.map((channel) => [channel.id, channel]));
  const byArtifact = new Map(clips.map((clip) => [clip.artifact.id, clip]));
  const list = h("ol", { class: "publications", "aria-label": "Publications of these clips" });
  const message = messageArea();
  const heading = h("h2", { id: "schedule-heading" }, "Schedule");
  const card = h("section", { class: "card", "aria-labelledby": "schedule-heading" }, heading);

  if (!channelList.length) {
    card.append(h("p", { class: "empty" }, "You have no channels yet. Connect YouTube, a Telegram chat or a webhook (POST /v1/channels/…), then schedule a clip here."));
    return card;
  }
  const clipSelect = h("select", { name: "clip" }, clips.map((clip) => h("option", { value: clip.artifact.id }, clip.name)));
  const channelSelect = h("select", { name: "channel" }, channelList.map((channel) => h("option", { value: channel.id }, `${channel.name} (${channel.kind})`)));
  const when = h("input", { type: "datetime-local", name: "publish_at", required: true, value: localValue(new Date()) });
  const title = h("input", { type: "text", name: "title", required: true, maxLength: 100, value: clips[0]?.title || "" });
  clipSelect.addEventListener("change", () => {
    title.value = byArtifact.get(clipSelect.value)?.title || title.value;
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Schedule");
  const form = h(
    "form",
    { class: "schedule", "aria-label": "Schedule a clip" },
    field("Clip", clipSelect),
    field("Channel", channelSelect),
    field("Publish at", when, "In your time zone; now or earlier publishes at once."),
    field("Title", title),
    h("div", { class: "actions" }, submit),
    message,
  );

  let timer = null;
  async function refresh() {
    clearTimeout(timer);
    const page = await api("/v1/publications?limit=200", { signal });
    const mine = page.items.filter((publication) => byArtifact.has(publication.artifact_id));
    list.replaceChildren(
      ...(mine.length
        ? mine.map((publication) => publicationItem(publication, byArtifact.get(publication.artifact_id).name, channels))
        : [h("li", { class: "empty" }, "None of these clips is scheduled yet.")]),
    );
    if (mine.some((publication) => !SETTLED.has(publication.status)) && !signal.aborted) {
      timer = setTimeout(() => refresh().catch(() => {}), POLL_MS);
    }
  }
  signal.addEventListener("abort", () => clearTimeout(timer));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await api("/v1/publications", {
        method: "POST",
        headers: { "Idempotency-Key": idempotencyKey() },
        json: {
          channel_id: channelSelect.value,
          artifact_id: clipSelect.value,
          title: title.value,
          publish_at: new Date(when.value).toISOString(),
        },
      });
      message.show("Scheduled. Its status below follows it until it is published.", "notice");
      await refresh();
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500) throw error;
      message.show(`Cannot schedule: ${error.message}`);
    } finally {
      submit.disabled = false;
    }
  });
  card.append(form, h("h3", {}, "Publications"), list);
  await refresh();
  return card;
}

// A video: its poster and facts, and its runs (newest first), with a way to start one.

import { api } from "../api.js";
import { postersFor } from "../artifacts.js";
import { formatBytes, formatDate, formatDuration, h, setTitle, statusBadge } from "../ui.js";

function codecs(info) {
  const picture = info.video_codec && `${info.video_codec} video${info.fps ? ` at ${info.fps} fps` : ""}`;
  const sound = info.audio_codec && `${info.audio_codec} audio`;
  return [picture, sound].filter(Boolean).join(", ");
}

function factList(video) {
  const info = video.media_info || {};
  const rows = [
    ["Duration", formatDuration(video.duration_seconds)],
    ["Size", formatBytes(video.size_bytes)],
    ["Picture", video.width && video.height ? `${video.width}×${video.height}` : video.has_video ? "yes" : "none"],
    ["Sound", video.has_audio ? "yes" : "none"],
    ["Format", codecs(info) || video.content_type],
    ["Added", formatDate(video.created_at)],
  ];
  return h(
    "dl",
    { class: "facts-list" },
    rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

function runsTable(runs) {
  if (!runs.length) {
    return h("p", { class: "empty" }, "No runs yet. Start one to get a transcript, highlights and clips.");
  }
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, "Runs of this video"),
      h("thead", {}, h("tr", {}, ["Run", "Profile", "Status", "Progress", "Started"].map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        runs.map((run) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, h("a", { href: `/runs/${encodeURIComponent(run.id)}` }, `Open ${run.id.slice(-6)}`)),
            h("td", {}, run.profile_name),
            h("td", {}, statusBadge(run.status)),
            h("td", {}, `${Math.floor(run.progress)} %`),
            h("td", {}, formatDate(run.created_at)),
          ),
        ),
      ),
    ),
  );
}

export async function render(main, { params, signal }) {
  const id = encodeURIComponent(params.id);
  const video = await api(`/v1/videos/${id}`, { signal });
  setTitle(video.filename);
  const runs = await api(`/v1/runs?video_id=${id}&limit=200`, { signal });
  const poster = h("div", { class: "poster large", "aria-hidden": "true" });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "/videos" }, "Videos"), " / "),
    h("h1", {}, video.filename),
    h("div", { class: "split" }, poster, factList(video)),
    h(
      "div",
      { class: "heading-row" },
      h("h2", {}, `Runs (${runs.total})`),
      h("a", { href: `/videos/${id}/runs/new`, class: "button primary" }, "Start a run"),
    ),
    runsTable(runs.items),
  );
  postersFor([video.id], signal)
    .then((posters) => {
      if (posters.has(video.id)) poster.replaceChildren(h("img", { src: posters.get(video.id), alt: "" }));
    })
    .catch(() => {});
}

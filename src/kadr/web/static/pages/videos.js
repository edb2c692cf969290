// Videos: drop a file to upload it (with its progress), and the list of videos with their
// poster and probe facts (duration, size, picture).

import { ApiError, api } from "../api.js";
import { postersFor } from "../artifacts.js";
import { navigate } from "../router.js";
import { formatBytes, formatDate, formatDuration, h, progressBar, setTitle } from "../ui.js";
import { UploadRefused, uploadVideo } from "../upload.js";

const PAGE_SIZE = 50;

export function facts(video) {
  const picture = video.width && video.height ? `${video.width}×${video.height}` : video.has_video ? "video" : "audio only";
  return [formatDuration(video.duration_seconds), formatBytes(video.size_bytes), picture];
}

function videoCard(video) {
  const poster = h("div", { class: "poster", "data-video": video.id, "aria-hidden": "true" });
  return h(
    "li",
    { class: "video-card" },
    poster,
    h(
      "div",
      { class: "video-text" },
      h("a", { href: `/videos/${encodeURIComponent(video.id)}`, class: "video-name" }, video.filename),
      h("p", { class: "facts" }, facts(video).join(" · ")),
      h("p", { class: "muted small" }, `Added ${formatDate(video.created_at)}`),
    ),
  );
}

async function drawPosters(list, videos, signal) {
  try {
    const posters = await postersFor(
      videos.map((video) => video.id),
      signal,
    );
    for (const [videoId, url] of posters) {
      const slot = list.querySelector(`[data-video="${CSS.escape(videoId)}"]`);
      slot?.replaceChildren(h("img", { src: url, alt: "", loading: "lazy" }));
    }
  } catch (error) {
    if (error.name !== "AbortError") console.warn("posters:", error);
  }
}

function uploader(signal) {
  const input = h("input", { type: "file", accept: "video/*,audio/*", class: "visually-hidden", id: "upload-file" });
  const status = h("div", { class: "upload-status", "aria-live": "polite" });
  const zone = h(
    "div",
    { class: "dropzone" },
    h("p", {}, "Drop a video here, or"),
    h("label", { for: input.id, class: "button primary" }, "Choose a file"),
    input,
    h("p", { class: "hint" }, "MP4, MOV, MKV, WebM or audio. It goes to your own kadr server."),
  );
  let busy = false;
  const start = async (file) => {
    if (busy || !file) return;
    busy = true;
    zone.classList.add("busy");
    const bar = progressBar(`Uploading ${file.name}`);
    const stage = h("p", {}, `Uploading ${file.name}…`);
    status.replaceChildren(stage, bar);
    try {
      const video = await uploadVideo(file, {
        onProgress: (fraction) => bar.set(fraction * 100),
        onStage: (text) => {
          bar.set(100);
          stage.textContent = text;
        },
        signal,
      });
      stage.textContent = `${video.filename} is ready.`;
      await navigate(`/videos/${encodeURIComponent(video.id)}`);
    } catch (error) {
      if (error.name === "AbortError") return;
      if (!(error instanceof UploadRefused || (error instanceof ApiError && error.status < 500))) throw error;
      status.replaceChildren(
        h("p", { class: "error", role: "alert" }, `${file.name} was not accepted: ${error.message}`),
      );
    } finally {
      busy = false;
      zone.classList.remove("busy");
      input.value = "";
    }
  };
  input.addEventListener("change", () => start(input.files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    start(event.dataTransfer.files[0]);
  });
  return h("section", { class: "upload", "aria-labelledby": "upload-heading" }, h("h2", { id: "upload-heading" }, "Upload"), zone, status);
}

export async function render(main, { query, signal }) {
  setTitle("Videos");
  const offset = Math.max(0, Number(query.get("offset")) || 0);
  const page = await api(`/v1/videos?limit=${PAGE_SIZE}&offset=${offset}`, { signal });
  const list = h("ul", { class: "video-list" }, page.items.map(videoCard));
  const pager = [];
  if (offset > 0) pager.push(h("a", { href: `/videos?offset=${Math.max(0, offset - PAGE_SIZE)}` }, "Newer"));
  if (offset + page.items.length < page.total) pager.push(h("a", { href: `/videos?offset=${offset + PAGE_SIZE}` }, "Older"));
  main.append(
    h("h1", {}, "Videos"),
    uploader(signal),
    h("h2", {}, `Your videos (${page.total})`),
    page.items.length
      ? list
      : h("p", { class: "empty" }, "No videos yet. Drop one above: kadr transcribes it and cuts clips from it."),
  );
  if (pager.length) main.append(h("nav", { class: "pager", "aria-label": "Pages of videos" }, pager));
  if (page.items.length) drawPosters(list, page.items, signal);
}

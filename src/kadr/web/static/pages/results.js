// A finished run's results: its clips (a player per aspect), the highlights with score and
// reason, the transcript with word timings (a word click seeks the talk's player), and
// downloads (subtitles, transcript, the manifest). Media play from the artifacts' signed
// download_url; JSON is read through the API.

import { api } from "../api.js";
import { artifactsOf, readJson } from "../artifacts.js";
import { reviseSection } from "../revise.js";
import { schedulePanel } from "../schedule.js";
import { formatBytes, formatTime, h, uid } from "../ui.js";

function section(id, title, ...content) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

function clipsSection(listing, artifacts) {
  const byRank = new Map();
  for (const clip of listing) {
    if (!byRank.has(clip.rank)) byRank.set(clip.rank, []);
    byRank.get(clip.rank).push(clip);
  }
  const items = [...byRank].map(([rank, clips]) =>
    h(
      "li",
      { class: "clip", id: `clip-${rank}` },
      h("h3", {}, `${rank}. ${clips[0].title || "Clip"}`),
      h("p", { class: "muted small" }, `${formatTime(clips[0].start)}–${formatTime(clips[0].end)} of the video`),
      h(
        "div",
        { class: "players" },
        clips.map((clip) => {
          const artifact = artifacts.get(clip.name);
          if (!artifact) return null;
          const shape = clip.aspect.replace(":", "x");
          return h(
            "figure",
            { class: `player aspect-${shape}` },
            h("video", {
              controls: true,
              preload: "metadata",
              playsInline: true,
              src: artifact.download_url,
              "aria-label": `Clip ${rank}, ${clip.aspect}`,
              "data-aspect": clip.aspect,
            }),
            h(
              "figcaption",
              {},
              `${clip.aspect} · ${formatBytes(artifact.size_bytes)} · `,
              h("a", { href: artifact.download_url, download: clip.name.split("/").pop() }, "Download"),
            ),
          );
        }),
      ),
    ),
  );
  return section("clips-heading", "Clips", h("ol", { class: "clips" }, items));
}

function highlightsSection(highlights, seek) {
  const items = highlights.map((highlight) =>
    h(
      "li",
      { class: "highlight" },
      h("h3", {}, `${highlight.rank}. ${highlight.title || "Highlight"}`),
      h(
        "p",
        { class: "facts" },
        `${formatTime(highlight.start)}–${formatTime(highlight.end)} · score ${Math.round(highlight.score * 100)} %`,
      ),
      h("p", {}, highlight.reason),
      seek
        ? h("button", { type: "button", onclick: () => seek(highlight.start) }, `Listen from ${formatTime(highlight.start)}`)
        : null,
    ),
  );
  return section("highlights-heading", "Highlights", items.length ? h("ol", { class: "highlights" }, items) : h("p", { class: "empty" }, "No highlights were found."));
}

/** Words as buttons in one tab stop: arrows move between words, Enter seeks. */
function transcriptReader(transcript, player) {
  const words = [];
  const reader = h("div", { class: "transcript", role: "group", "aria-label": "Transcript: choose a word to play from it" });
  for (const segment of transcript.segments) {
    const line = h("p", { class: "segment" }, h("span", { class: "time muted small" }, formatTime(segment.start)), " ");
    for (const word of segment.words || []) {
      const button = h(
        "button",
        { type: "button", class: "word", tabindex: -1, "data-start": word.start, title: formatTime(word.start) },
        word.word.trim(),
      );
      words.push(button);
      line.append(button, " ");
    }
    reader.append(line);
  }
  if (words.length) words[0].tabIndex = 0;
  const seek = (seconds) => {
    player.currentTime = seconds;
  };
  reader.addEventListener("click", (event) => {
    const word = event.target.closest(".word");
    if (word) seek(Number(word.dataset.start));
  });
  reader.addEventListener("keydown", (event) => {
    const index = words.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: index + 1, ArrowDown: index + 1, ArrowLeft: index - 1, ArrowUp: index - 1, Home: 0, End: words.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = words[Math.max(0, Math.min(words.length - 1, moves[event.key]))];
    words[index].tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  });
  let current = null;
  player.addEventListener("timeupdate", () => {
    // The word being spoken: the last one that started at or before the playhead.
    let low = 0;
    let high = words.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (Number(words[middle].dataset.start) <= player.currentTime) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    const word = found >= 0 ? words[found] : null;
    if (word !== current) {
      current?.classList.remove("current");
      word?.classList.add("current");
      current = word;
    }
  });
  return { reader, seek };
}

/**
 * The video in other languages: the dubbed mp4 of the language chosen (its first sound track is
 * the dub, the second the original: where the browser can switch tracks, "original sound"
 * does), with each translation's subtitles as tracks of the player, and their downloads.
 */
function languagesSection(artifacts) {
  const languages = new Set();
  for (const name of artifacts.keys()) {
    const found = name.match(/^(?:translations\/([^/]+)\/subtitles\.vtt|dub\/([^/]+)\.mp4)$/);
    if (found) languages.add(found[1] || found[2]);
  }
  if (!languages.size) return null;
  const sorted = [...languages].sort();
  const dubbed = sorted.filter((language) => artifacts.has(`dub/${language}.mp4`));
  const tracks = sorted
    .filter((language) => artifacts.has(`translations/${language}/subtitles.vtt`))
    .map((language) =>
      h("track", {
        kind: "subtitles",
        srclang: language,
        label: language,
        src: artifacts.get(`translations/${language}/subtitles.vtt`).download_url,
      }),
    );
  const parts = [];
  if (dubbed.length) {
    const player = h("video", { controls: true, preload: "metadata", playsInline: true, "aria-label": "The dubbed video" }, tracks);
    const hintId = uid("hint");
    const sound = h("select", { id: uid("sound"), "aria-describedby": hintId });
    for (const language of dubbed) sound.append(h("option", { value: language }, `Dub: ${language}`));
    const switchable = "audioTracks" in HTMLMediaElement.prototype;
    if (switchable) sound.append(h("option", { value: "" }, "Original sound"));
    let shown = null;
    const play = () => {
      const language = sound.value || shown;
      const at = player.currentTime || 0;
      if (language !== shown) {
        shown = language;
        player.src = artifacts.get(`dub/${language}.mp4`).download_url;
        player.addEventListener("loadedmetadata", () => (player.currentTime = at), { once: true });
      }
      if (switchable && player.audioTracks?.length > 1) {
        player.audioTracks[0].enabled = Boolean(sound.value);
        player.audioTracks[1].enabled = !sound.value;
      }
    };
    sound.addEventListener("change", play);
    player.addEventListener("loadedmetadata", play);
    parts.push(
      h("div", { class: "field" }, h("label", { for: sound.id }, "Sound"), sound),
      h(
        "p",
        { class: "hint", id: hintId },
        switchable
          ? "Each dub keeps the original sound as a second track."
          : "Each dub keeps the original sound as a second track: download the video to hear it.",
      ),
      h("figure", { class: "player" }, player),
    );
    play();
  }
  const downloads = sorted.flatMap((language) =>
    [`dub/${language}.mp4`, `translations/${language}/subtitles.srt`, `translations/${language}/subtitles.vtt`]
      .filter((name) => artifacts.has(name))
      .map((name) =>
        h("li", {}, h("a", { href: artifacts.get(name).download_url, download: name.replaceAll("/", "-") }, name)),
      ),
  );
  return section("languages-heading", "Other languages", parts, h("ul", { class: "downloads" }, downloads));
}

function downloadsSection(runId, artifacts) {
  const wanted = [...artifacts.values()].filter(
    (artifact) => artifact.name.startsWith("subtitles/") || artifact.name.startsWith("transcript."),
  );
  const manifest = h("button", { type: "button" }, "manifest.json");
  manifest.addEventListener("click", async () => {
    // The manifest is read through the API (with the session) and saved from memory.
    const document_ = await api(`/v1/runs/${encodeURIComponent(runId)}/manifest`);
    const url = URL.createObjectURL(new Blob([JSON.stringify(document_, null, 2)], { type: "application/json" }));
    const anchor = h("a", { href: url, download: `manifest-${runId}.json` });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  return section(
    "downloads-heading",
    "Downloads",
    h(
      "ul",
      { class: "downloads" },
      wanted.map((artifact) =>
        h(
          "li",
          {},
          h("a", { href: artifact.download_url, download: artifact.name.split("/").pop() }, artifact.name.split("/").pop()),
          h("span", { class: "muted small" }, ` ${formatBytes(artifact.size_bytes)}`),
        ),
      ),
      h("li", {}, manifest, h("span", { class: "muted small" }, " everything this run made, with checksums")),
    ),
  );
}

function thumbnailsSection(artifacts) {
  const images = [...artifacts.values()].filter((artifact) => artifact.name.startsWith("thumbnails/"));
  if (!images.length) return null;
  return section(
    "thumbnails-heading",
    "Poster frames",
    h(
      "ul",
      { class: "thumbnails" },
      images.map((artifact, index) =>
        h("li", {}, h("a", { href: artifact.download_url, download: artifact.name.split("/").pop() }, h("img", { src: artifact.download_url, alt: `Poster frame ${index + 1}`, loading: "lazy" }))),
      ),
    ),
  );
}

export async function drawResults(container, run, signal, { duration = null } = {}) {
  const artifacts = await artifactsOf(run.id, signal);
  const json = (name) => (artifacts.has(name) ? readJson(artifacts.get(name), signal) : Promise.resolve(null));
  const [clips, highlights, transcript] = await Promise.all([
    json("clips/clips.json"),
    json("highlights.json"),
    json("transcript.json"),
  ]);
  const parts = [h("h2", { class: "results-title" }, "Results")];
  if (clips?.length) parts.push(clipsSection(clips, artifacts));
  let seek = null;
  let talk = null;
  const audio = artifacts.get("audio/audio.wav");
  if (transcript && audio) {
    const player = h("audio", { controls: true, preload: "metadata", src: audio.download_url, "aria-label": "The talk's audio" });
    const reader = transcriptReader(transcript, player);
    seek = reader.seek;
    talk = section(
      "transcript-heading",
      "Transcript",
      h("p", { class: "hint" }, `Language: ${transcript.language ?? "unknown"}. Choose a word to play the talk from it.`),
      h("div", { class: "talk-player" }, player),
      reader.reader,
    );
  }
  if (highlights) parts.push(highlightsSection(highlights.highlights || [], seek));
  if (talk) parts.push(talk);
  if (transcript || highlights) parts.push(reviseSection(run, transcript, highlights?.highlights || [], duration));
  const playable = (clips || [])
    .filter((clip) => artifacts.has(clip.name))
    .map((clip) => ({ name: `Clip ${clip.rank}, ${clip.aspect}`, title: clip.title, artifact: artifacts.get(clip.name) }));
  if (playable.length) parts.push(await schedulePanel(playable, signal));
  const languages = languagesSection(artifacts);
  if (languages) parts.push(languages);
  parts.push(downloadsSection(run.id, artifacts));
  const thumbs = thumbnailsSection(artifacts);
  if (thumbs) parts.push(thumbs);
  container.replaceChildren(...parts);
}

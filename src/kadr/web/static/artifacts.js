// What runs produced: artifact lists, their JSON, and a video's poster frame.

import { api } from "./api.js";

/** The run's artifacts by name ("clips/clips.json" -> artifact with its signed download_url). */
export async function artifactsOf(runId, signal) {
  const list = await api(`/v1/runs/${encodeURIComponent(runId)}/artifacts`, { signal });
  return new Map(list.map((artifact) => [artifact.name, artifact]));
}

/** A JSON artifact's content, fetched through the API (same origin, with the session). */
export function readJson(artifact, signal) {
  return api(`/v1/artifacts/${encodeURIComponent(artifact.id)}/content`, { signal });
}

/** The first thumbnail of a run's artifacts, if it made any. */
export function posterOf(artifacts) {
  for (const [name, artifact] of artifacts) {
    if (name.startsWith("thumbnails/") && artifact.content_type.startsWith("image/")) return artifact;
  }
  return null;
}

/**
 * Poster URLs for videos: the first thumbnail of each video's newest finished run that made
 * thumbnails. One list of runs, then one artifact list per video that has such a run.
 */
export async function postersFor(videoIds, signal) {
  const wanted = new Set(videoIds);
  const runs = await api("/v1/runs?status=succeeded&limit=200", { signal });
  const newest = new Map();
  for (const run of runs.items) {
    if (wanted.has(run.video_id) && !newest.has(run.video_id) && "thumbnails" in run.config) {
      newest.set(run.video_id, run.id);
    }
  }
  const posters = new Map();
  await Promise.all(
    [...newest].map(async ([videoId, runId]) => {
      const poster = posterOf(await artifactsOf(runId, signal));
      if (poster) posters.set(videoId, poster.download_url);
    }),
  );
  return posters;
}

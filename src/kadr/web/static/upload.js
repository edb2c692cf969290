// Sending a video to kadr with a real progress bar (XMLHttpRequest reports upload progress;
// fetch does not). Where the server stores files in S3, the file goes straight there through
// presigned URLs (in parts for big files); otherwise it streams through POST /v1/videos,
// which the server writes to disk in chunks. Either way the server then probes it, and a file
// that is not a video comes back with the API's reason.

import { ApiError, ApiUnreachable, SessionExpired, api, freshAccessToken, refreshSession } from "./api.js";
import { formatBytes } from "./ui.js";

const POLL_MS = 1000;
let options = null;

/** The upload was refused before or after sending, for the reason in `message`. */
export class UploadRefused extends Error {}

/** Object storage did not answer the browser (usually: its CORS rules do not allow this site). */
class StorageUnreachable extends Error {}

function problemFrom(status, text) {
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") return body;
  } catch {
    // not JSON
  }
  return { status, detail: `the server answered ${status}` };
}

/** One request with upload progress; resolves with { status, text, header(name) }. */
function send(method, url, body, { headers = {}, onProgress, onSent, signal, storage = false }) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded, event.total);
    });
    request.upload.addEventListener("load", () => onSent?.());
    request.addEventListener("load", () =>
      resolve({
        status: request.status,
        text: request.responseText,
        header: (name) => request.getResponseHeader(name),
      }),
    );
    request.addEventListener("error", () => reject(storage ? new StorageUnreachable() : new ApiUnreachable()));
    request.addEventListener("abort", () => reject(new DOMException("upload cancelled", "AbortError")));
    signal?.addEventListener("abort", () => request.abort());
    request.send(body);
  });
}

async function throughTheApi(file, { onProgress, onStage, signal }) {
  for (let attempt = 1; ; attempt += 1) {
    const token = await freshAccessToken();
    const form = new FormData();
    form.append("file", file, file.name); // the field POST /v1/videos reads
    const answer = await send("POST", "/v1/videos", form, {
      headers: { Authorization: `Bearer ${token}` },
      onProgress: (loaded, total) => onProgress(loaded / total),
      onSent: () => onStage("Checking the file…"),
      signal,
    });
    if (answer.status === 201) return JSON.parse(answer.text);
    if (answer.status === 401 && attempt === 1) {
      if (!(await refreshSession())) throw new SessionExpired();
      continue;
    }
    throw new ApiError(answer.status, problemFrom(answer.status, answer.text));
  }
}

async function putToStorage(url, body, headers, onProgress, signal) {
  const answer = await send("PUT", url, body, { headers, onProgress, signal, storage: true });
  if (answer.status < 200 || answer.status >= 300) {
    throw new ApiError(answer.status, { detail: `object storage refused the file (${answer.status})` });
  }
  return answer;
}

async function straightToStorage(file, { onProgress, onStage, signal }) {
  const contentType = file.type || "application/octet-stream";
  const upload = await api("/v1/uploads", {
    method: "POST",
    json: { filename: file.name, content_type: contentType, size_bytes: file.size },
    signal,
  });
  let parts;
  if (upload.parts) {
    parts = [];
    let sent = 0;
    for (const part of upload.parts) {
      const start = (part.part_number - 1) * upload.part_size;
      const piece = file.slice(start, start + upload.part_size);
      const answer = await putToStorage(part.url, piece, {}, (loaded) => onProgress((sent + loaded) / file.size), signal);
      const etag = answer.header("ETag");
      if (!etag) {
        throw new UploadRefused("object storage hid the ETag header: its CORS rules must expose ETag");
      }
      parts.push({ part_number: part.part_number, etag });
      sent += piece.size;
    }
  } else {
    await putToStorage(upload.upload_url, file, { "Content-Type": contentType }, (loaded, total) =>
      onProgress(loaded / total),
    signal);
  }
  onStage("Checking the file…");
  await api(`/v1/uploads/${upload.id}/complete`, { method: "POST", json: parts ? { parts } : undefined, signal });
  for (;;) {
    const state = await api(`/v1/uploads/${upload.id}`, { signal });
    if (state.status === "completed") return api(`/v1/videos/${state.video_id}`, { signal });
    if (state.status === "rejected") throw new UploadRefused(state.error || "the file was refused");
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Upload `file` and resolve with the video the API made of it. `onProgress(0..1)` follows the
 * bytes; `onStage(text)` says what happens once they are sent.
 */
export async function uploadVideo(file, { onProgress, onStage, signal }) {
  options ??= await api("/v1/uploads/options");
  if (file.size > options.max_upload_bytes) {
    throw new UploadRefused(
      `${file.name} is ${formatBytes(file.size)}; kadr takes files up to ${formatBytes(options.max_upload_bytes)}`,
    );
  }
  const hooks = { onProgress, onStage, signal };
  if (options.direct_to_storage) {
    try {
      return await straightToStorage(file, hooks);
    } catch (error) {
      if (!(error instanceof StorageUnreachable)) throw error;
      onStage("Object storage did not let the browser in; sending through kadr instead…");
    }
  }
  return throughTheApi(file, hooks);
}

/**
 * Uploads to the sidecar's `POST /v1/media`: the bytes of one photo or video,
 * authenticated with the socket's bearer token. The answer names the media
 * (`id`, to pass as `media_ids` of a post or product) with its URLs and
 * BlurHash. Refusals come back as `{"error": {"code", "message"}}` and are
 * thrown as `UploadError` with that code, so a screen can word each one.
 *
 * XMLHttpRequest because it reports upload progress (fetch does not); where
 * there is none (Node, in tests) fetch does the same request.
 */

/** What an upload needs of the app's `Grover`. */
export interface Uploader {
  client: { token: string | null };
  sidecar(path: string): string;
}

/** A picked file: an expo-image-picker asset has these fields. */
export interface UploadSource {
  uri: string;
  mimeType?: string | null;
  fileName?: string | null;
  /** The File itself, on web. */
  file?: Blob | null;
}

/** The sidecar's reply (server/http/media.py `media_view`). */
export interface UploadedMedia {
  id: string;
  kind: "image" | "video";
  mime: string;
  size: number;
  width: number | null;
  height: number | null;
  duration: number | null;
  blurhash: string | null;
  url: string;
  thumbnail_url: string | null;
  created_at: number;
}

/** The sidecar's stable codes, plus `network` when no answer came at all. */
export type UploadErrorCode =
  | "unauthenticated"
  | "suspended"
  | "empty_body"
  | "bad_multipart"
  | "too_large"
  | "unsupported_type"
  | "invalid_media"
  | "rate_limited"
  | "quota_exceeded"
  | "storage_unavailable"
  | "unavailable"
  | "network";

export class UploadError extends Error {
  constructor(
    readonly code: UploadErrorCode | (string & {}),
    message: string,
    readonly status: number,
    readonly retryAfter: number | null = null,
  ) {
    super(`${code}: ${message}`);
    this.name = "UploadError";
  }
}

const WORDS: Record<string, string> = {
  unauthenticated: "Please log in again to upload.",
  suspended: "This account is suspended.",
  empty_body: "That file is empty.",
  too_large: "That file is too big.",
  unsupported_type: "That kind of file can't be posted.",
  invalid_media: "That file looks damaged.",
  rate_limited: "Too many uploads. Wait a moment and try again.",
  quota_exceeded: "You've reached today's upload limit.",
  storage_unavailable: "Uploads are unavailable right now. Try again soon.",
  unavailable: "Uploads are unavailable right now. Try again soon.",
  network: "The upload didn't get through. Check your connection.",
};

/** Words for a person about an upload that failed. */
export function uploadErrorText(error: unknown): string {
  if (error instanceof UploadError) return WORDS[error.code] ?? "The upload failed.";
  return "The upload failed.";
}

/** Upload `file`; `onProgress` gets the share sent so far, 0 to 1. */
export async function uploadMedia(
  grover: Uploader,
  file: UploadSource,
  onProgress: (fraction: number) => void = () => undefined,
): Promise<UploadedMedia> {
  const token = grover.client.token;
  if (!token) throw new UploadError("unauthenticated", "not logged in", 401);
  const url = grover.sidecar("/v1/media");
  const body = await bodyOf(file);
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  // A raw body says what it is; a multipart one sets its own boundary header.
  if (!(body instanceof FormData)) headers["Content-Type"] = file.mimeType || "application/octet-stream";
  const { status, text, retryAfter } =
    typeof XMLHttpRequest === "undefined"
      ? await viaFetch(url, headers, body)
      : await viaXhr(url, headers, body, onProgress);
  onProgress(1);
  return parse(status, text, retryAfter);
}

async function bodyOf(file: UploadSource): Promise<Blob | FormData> {
  if (file.file) return file.file;
  // Web without the File: a blob: or data: URL reads back into bytes.
  if (/^(blob|data):/.test(file.uri)) return (await fetch(file.uri)).blob();
  // Native: React Native's FormData streams a file:// or content:// URI itself.
  const form = new FormData();
  const part = { uri: file.uri, name: file.fileName ?? "upload", type: file.mimeType ?? "application/octet-stream" };
  form.append("file", part as unknown as Blob);
  return form;
}

interface Answer {
  status: number;
  text: string;
  retryAfter: number | null;
}

function viaXhr(
  url: string,
  headers: Record<string, string>,
  body: Blob | FormData,
  onProgress: (fraction: number) => void,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(Math.min(1, event.loaded / event.total));
    };
    xhr.onload = () =>
      resolve({ status: xhr.status, text: xhr.responseText, retryAfter: seconds(xhr.getResponseHeader("Retry-After")) });
    xhr.onerror = () => reject(new UploadError("network", "no answer from the sidecar", 0));
    xhr.ontimeout = xhr.onerror;
    xhr.send(body);
  });
}

async function viaFetch(url: string, headers: Record<string, string>, body: Blob | FormData): Promise<Answer> {
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", headers, body });
  } catch {
    throw new UploadError("network", "no answer from the sidecar", 0);
  }
  return { status: response.status, text: await response.text(), retryAfter: seconds(response.headers.get("Retry-After")) };
}

function seconds(header: string | null): number | null {
  const value = header === null ? NaN : Number(header);
  return Number.isFinite(value) ? value : null;
}

function parse(status: number, text: string, retryAfter: number | null): UploadedMedia {
  let data: unknown = null;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON: a proxy's page, say; worded by the status below
  }
  if (status >= 200 && status < 300 && data !== null && typeof (data as UploadedMedia).id === "string") {
    return data as UploadedMedia;
  }
  const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
  throw new UploadError(error?.code ?? (status === 0 ? "network" : "unavailable"), error?.message ?? `HTTP ${status}`, status, retryAfter);
}

// Calls to this server's own APIs with the session cookie. Writes carry the anti-forgery token.

export const GROUP = "/apis/secret.grafana.app/v1beta1";

let csrfToken = "";

export function setCsrfToken(token) {
  csrfToken = token || "";
}

export class ApiError extends Error {
  constructor(code, status) {
    super((status && status.message) || `request failed (${code})`);
    this.code = code;
    this.reason = (status && status.reason) || "";
    this.causes = (status && status.details && status.details.causes) || [];
  }
}

// Called when the server says the session is gone (401): the page goes back to sign-in.
let onSignedOut = () => {};
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-CSRF-Token"] = csrfToken;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) {
    return null;
  }
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401 && !path.endsWith("/ui/api/session")) {
      onSignedOut(error.message);
    }
    throw error;
  }
  return parsed;
}

export function securevalues(namespace, name) {
  const base = `${GROUP}/namespaces/${encodeURIComponent(namespace)}/securevalues`;
  return name ? `${base}/${encodeURIComponent(name)}` : base;
}

export function keepers(namespace, name) {
  const base = `${GROUP}/namespaces/${encodeURIComponent(namespace)}/keepers`;
  return name ? `${base}/${encodeURIComponent(name)}` : base;
}

// A watch: one JSON event per line, until the server ends it or `signal` aborts it.
export async function watch(path, onEvent, signal) {
  const response = await fetch(path, { credentials: "same-origin", cache: "no-store", signal });
  if (!response.ok || !response.body) {
    if (response.status === 401) {
      onSignedOut("your session has ended; please sign in again");
    }
    throw new ApiError(response.status, null);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    buffered += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) {
        onEvent(JSON.parse(line));
      }
    }
  }
}

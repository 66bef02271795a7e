// The list of secure values: one page at a time (limit/continue), kept current by a watch.

import { ApiError, request, securevalues, watch } from "./api.js";
import { $, clear, formatTime, h } from "./dom.js";

export const PAGE_SIZE = 100;
const FACADE_KEY = "compat.apiserver.local/key";

export class SecretList {
  constructor({ onEdit, onDelete, announce }) {
    this.onEdit = onEdit;
    this.onDelete = onDelete;
    this.announce = announce;
    this.items = new Map();
    this.selected = new Set();
    this.continueToken = "";
    this.namespace = "";
    this.allowed = {};
    this.watchAbort = null;
    $("filter").addEventListener("input", () => this.render());
    $("sort").addEventListener("change", () => this.render());
    $("label-selector").addEventListener("change", () => this.load());
    $("load-more").addEventListener("click", () => this.loadMore());
    $("delete-selected").addEventListener("click", () => this.onDelete([...this.selected].sort()));
  }

  show(namespace, allowed) {
    this.namespace = namespace;
    this.allowed = allowed;
    const writes = allowed.create || allowed.update || allowed.delete;
    $("add-secret").hidden = !allowed.create;
    $("add-first").hidden = !allowed.create;
    $("delete-selected").hidden = !allowed.delete;
    document.body.classList.toggle("read-only", !writes);
    return this.load();
  }

  stop() {
    if (this.watchAbort) {
      this.watchAbort.abort();
      this.watchAbort = null;
    }
  }

  query(extra) {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE), ...extra });
    const selector = $("label-selector").value.trim();
    if (selector) {
      params.set("labelSelector", selector);
    }
    return params;
  }

  async load() {
    this.stop();
    $("label-selector-error").textContent = "";
    let list;
    try {
      list = await request("GET", `${securevalues(this.namespace)}?${this.query()}`);
    } catch (error) {
      if (error instanceof ApiError && error.code === 400) {
        $("label-selector-error").textContent = error.message;
        return;
      }
      this.announce(error.message, true);
      return;
    }
    this.items = new Map(list.items.map((item) => [item.metadata.name, item]));
    this.selected.clear();
    this.continueToken = list.metadata.continue || "";
    this.render();
    this.follow(list.metadata.resourceVersion);
  }

  async loadMore() {
    if (!this.continueToken) {
      return;
    }
    const list = await request("GET", `${securevalues(this.namespace)}?${this.query({ continue: this.continueToken })}`);
    for (const item of list.items) {
      if (!this.items.has(item.metadata.name)) {
        this.items.set(item.metadata.name, item);
      }
    }
    this.continueToken = list.metadata.continue || "";
    this.render();
  }

  // Changes made by anyone, through any API, appear here without a reload.
  follow(resourceVersion) {
    const abort = new AbortController();
    this.watchAbort = abort;
    // A bounded watch, renewed when it ends: an ended session is noticed within timeoutSeconds.
    const params = this.query({ watch: "1", resourceVersion, allowWatchBookmarks: "true", timeoutSeconds: "300" });
    params.delete("limit");
    let last = resourceVersion;
    const onEvent = (event) => {
      const object = event.object || {};
      if (event.type === "ERROR") {
        throw new ApiError(object.code || 500, object);
      }
      last = (object.metadata && object.metadata.resourceVersion) || last;
      if (event.type === "BOOKMARK") {
        return;
      }
      const name = object.metadata.name;
      if (event.type === "DELETED") {
        this.items.delete(name);
        this.selected.delete(name);
      } else if (event.type === "ADDED" || this.items.has(name) || !this.continueToken) {
        this.items.set(name, object);
      }
      this.render();
    };
    watch(`${securevalues(this.namespace)}?${params}`, onEvent, abort.signal)
      .then(() => !abort.signal.aborted && this.follow(last))
      .catch((error) => {
        if (abort.signal.aborted || (error instanceof ApiError && error.code === 401)) {
          return;
        }
        // An expired revision or a broken stream: start over from a fresh list.
        setTimeout(() => !abort.signal.aborted && this.load(), 1000);
      });
  }

  visibleItems() {
    const needle = $("filter").value.trim().toLowerCase();
    const items = [...this.items.values()].filter((item) => {
      if (!needle) {
        return true;
      }
      const key = facadeKey(item) || "";
      return [item.metadata.name, item.spec.description || "", key].some((text) => text.toLowerCase().includes(needle));
    });
    const sort = $("sort").value;
    const by = {
      name: (a, b) => a.metadata.name.localeCompare(b.metadata.name),
      // Timestamps have whole seconds: within one, the later write (higher resourceVersion) comes first.
      created: (a, b) => created(b).localeCompare(created(a)) || revision(b) - revision(a),
      changed: (a, b) => changed(b).localeCompare(changed(a)) || revision(b) - revision(a),
    }[sort];
    return items.sort(by);
  }

  render() {
    const rows = $("secret-rows");
    clear(rows);
    const items = this.visibleItems();
    for (const item of items) {
      rows.append(this.row(item));
    }
    const none = this.items.size === 0;
    $("secrets").hidden = none;
    $("empty").hidden = !none && items.length > 0;
    $("empty-text").textContent = none
      ? "Looks like there are no secrets in this namespace yet. Why not add the first one?"
      : "No secret matches the filter.";
    $("add-first").hidden = !none || !this.allowed.create;
    $("count").textContent = `${items.length} of ${this.items.size} loaded${this.continueToken ? ", more available" : ""}`;
    $("load-more").hidden = !this.continueToken;
    const deleteSelected = $("delete-selected");
    deleteSelected.disabled = this.selected.size === 0;
    deleteSelected.textContent = this.selected.size ? `Delete selected (${this.selected.size})` : "Delete selected";
  }

  row(item) {
    const name = item.metadata.name;
    const spec = item.spec || {};
    const status = item.status || {};
    const labels = item.metadata.labels || {};
    const key = facadeKey(item);
    const select = this.allowed.delete
      ? h("input", {
          type: "checkbox",
          "aria-label": `Select ${name}`,
          checked: this.selected.has(name),
          onchange: (event) => {
            if (event.target.checked) {
              this.selected.add(name);
            } else {
              this.selected.delete(name);
            }
            this.render();
          },
        })
      : null;
    const actions = [];
    if (this.allowed.update) {
      actions.push(h("button", { type: "button", "aria-label": `Edit ${name}`, onclick: () => this.onEdit(name) }, "Edit"));
    }
    if (this.allowed.delete) {
      actions.push(
        h("button", { type: "button", class: "danger", "aria-label": `Delete ${name}`, onclick: () => this.onDelete([name]) }, "Delete"),
      );
    }
    return h(
      "tr",
      { "data-name": name },
      h("td", { class: "select-col" }, select),
      h("td", { "data-label": "Name", class: "name" }, name),
      h("td", { "data-label": "Description" }, spec.description || ""),
      h("td", { "data-label": "Decrypters" }, (spec.decrypters || []).map((d) => h("span", { class: "badge" }, d))),
      h("td", { "data-label": "Keeper" }, status.keeper || ""),
      h(
        "td",
        { "data-label": "Labels" },
        Object.entries(labels).map(([k, v]) => h("span", { class: "badge label" }, `${k}=${v}`)),
      ),
      h("td", { "data-label": "API key", class: "key" }, key || ""),
      h("td", { "data-label": "Version" }, status.version ?? ""),
      h(
        "td",
        { "data-label": "Changed", class: "times" },
        h("time", { datetime: changed(item), title: changed(item) }, formatTime(changed(item))),
        h("span", { class: "created" }, "created ", h("time", { datetime: created(item), title: created(item) }, formatTime(created(item)))),
      ),
      h("td", { class: "row-actions" }, actions),
    );
  }
}

// The InfluxDB key or Cloudflare name a value answers to, when a facade created it.
export function facadeKey(item) {
  return (item.metadata.annotations || {})[FACADE_KEY];
}

function revision(item) {
  return Number(item.metadata.resourceVersion) || 0;
}

function created(item) {
  return item.metadata.creationTimestamp || "";
}

function changed(item) {
  const times = (item.metadata.managedFields || []).map((field) => field.time || "").filter(Boolean);
  return times.sort().pop() || created(item);
}

// The Add and Edit forms. A value is only ever typed or read from a file, sent once, and cleared:
// it is never shown, pre-filled or kept anywhere in the browser.

import { ApiError, request, securevalues } from "./api.js";
import { $, clear, h } from "./dom.js";

export const KNOWN_DECRYPTERS = ["k6-cloud", "provisioning.grafana.app", "synthetic-monitoring", "influxdb"];
const DESCRIPTION_LIMIT = 25;
// Server field paths (422 causes) -> the element showing their message.
const FIELD_ERRORS = {
  "metadata.name": "err-metadata-name",
  "metadata.generateName": "err-metadata-name",
  "spec.description": "err-spec-description",
  "spec.value": "err-spec-value",
  "spec.decrypters": "err-spec-decrypters",
  "metadata.labels": "err-metadata-labels",
};

export class SecretForm {
  constructor({ announce }) {
    this.announce = announce;
    this.dialog = $("secret-dialog");
    this.editing = null; // the object being edited (its resourceVersion is the precondition)
    this.namespace = "";
    this.fileValue = null;
    $("sv-description").addEventListener("input", () => this.count());
    $("sv-multiline").addEventListener("change", () => this.multiline($("sv-multiline").checked));
    $("sv-generate").addEventListener("change", () => {
      $("sv-name-label").textContent = $("sv-generate").checked ? "Name prefix" : "Name";
    });
    $("sv-file").addEventListener("change", () => this.readFile());
    $("add-decrypter").addEventListener("click", () => this.addCustomDecrypter());
    $("sv-custom-decrypter").addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.addCustomDecrypter();
      }
    });
    $("cancel-secret").addEventListener("click", () => this.close());
    $("reload-secret").addEventListener("click", () => this.reload());
    $("secret-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.dialog.addEventListener("close", () => this.clearValue());
  }

  openAdd(namespace) {
    this.namespace = namespace;
    this.editing = null;
    this.reset();
    $("secret-dialog-title").textContent = "Add secret";
    $("sv-name").disabled = false;
    $("sv-generate").disabled = false;
    $("sv-value-label").textContent = "Value";
    $("value-warning").textContent = "The value cannot be read back once saved.";
    this.renderDecrypters([]);
    this.dialog.showModal();
    $("sv-name").focus();
  }

  async openEdit(namespace, name) {
    this.namespace = namespace;
    let object;
    try {
      object = await request("GET", securevalues(namespace, name));
    } catch (error) {
      this.announce(error.message, true);
      return;
    }
    this.reset();
    $("secret-dialog-title").textContent = `Edit secret ${name}`;
    $("sv-name").disabled = true;
    $("sv-generate").disabled = true;
    $("sv-value-label").textContent = "New value";
    $("value-warning").textContent =
      "Leave empty to keep the current value. A new value is used at once by the scripts and services that read it; it cannot be read back once saved.";
    this.fill(object);
    this.dialog.showModal();
    $("sv-description").focus();
  }

  fill(object) {
    this.editing = object;
    $("sv-name").value = object.metadata.name;
    $("sv-description").value = object.spec.description || "";
    $("sv-labels").value = Object.entries(object.metadata.labels || {})
      .map(([k, v]) => `${k}=${v}`)
      .join("\n");
    this.renderDecrypters(object.spec.decrypters || []);
    this.count();
  }

  async reload() {
    const name = this.editing.metadata.name;
    try {
      const object = await request("GET", securevalues(this.namespace, name));
      this.fill(object);
      $("conflict").hidden = true;
      $("form-error").textContent = "";
    } catch (error) {
      $("form-error").textContent = error.message;
    }
  }

  close() {
    this.dialog.close();
  }

  reset() {
    $("secret-form").reset();
    $("conflict").hidden = true;
    $("sv-name-label").textContent = "Name";
    this.multiline(false);
    this.clearValue();
    this.clearErrors();
    this.count();
  }

  clearValue() {
    $("sv-value").value = "";
    $("sv-value-multiline").value = "";
    $("sv-file").value = "";
    $("sv-file-name").textContent = "";
    this.fileValue = null;
  }

  clearErrors() {
    $("form-error").textContent = "";
    for (const id of new Set(Object.values(FIELD_ERRORS))) {
      $(id).textContent = "";
    }
  }

  count() {
    const length = [...$("sv-description").value].length;
    const counter = $("sv-description-count");
    counter.textContent = `${length} / ${DESCRIPTION_LIMIT}`;
    counter.classList.toggle("over", length > DESCRIPTION_LIMIT);
  }

  multiline(on) {
    const single = $("sv-value");
    const multi = $("sv-value-multiline");
    // The typed text moves with the mode; the label follows the visible field.
    if (on && multi.hidden) {
      multi.value = single.value;
      single.value = "";
    } else if (!on && !multi.hidden) {
      single.value = multi.value;
      multi.value = "";
    }
    multi.hidden = !on;
    single.hidden = on;
    $("sv-multiline").checked = on;
    $("sv-value-label").htmlFor = on ? "sv-value-multiline" : "sv-value";
  }

  async readFile() {
    const file = $("sv-file").files[0];
    if (!file) {
      this.fileValue = null;
      $("sv-file-name").textContent = "";
      return;
    }
    this.fileValue = await file.text();
    $("sv-file-name").textContent = `${file.name} (${file.size} bytes) will be the value`;
  }

  value() {
    if (this.fileValue !== null) {
      return this.fileValue;
    }
    return $("sv-multiline").checked ? $("sv-value-multiline").value : $("sv-value").value;
  }

  renderDecrypters(chosen) {
    const box = $("decrypter-options");
    clear(box);
    const names = [...KNOWN_DECRYPTERS, ...chosen.filter((d) => !KNOWN_DECRYPTERS.includes(d))];
    for (const name of names) {
      box.append(this.decrypterCheck(name, chosen.includes(name)));
    }
  }

  decrypterCheck(name, checked) {
    return h("label", { class: "inline" }, h("input", { type: "checkbox", name: "decrypter", value: name, checked }), ` ${name}`);
  }

  addCustomDecrypter() {
    const input = $("sv-custom-decrypter");
    const name = input.value.trim();
    if (!name) {
      return;
    }
    const existing = [...document.querySelectorAll('input[name="decrypter"]')].find((box) => box.value === name);
    if (existing) {
      existing.checked = true;
    } else {
      $("decrypter-options").append(this.decrypterCheck(name, true));
    }
    input.value = "";
  }

  decrypters() {
    return [...document.querySelectorAll('input[name="decrypter"]:checked')].map((box) => box.value);
  }

  labels() {
    const labels = {};
    for (const line of $("sv-labels").value.split("\n")) {
      const text = line.trim();
      if (!text) {
        continue;
      }
      const at = text.indexOf("=");
      if (at < 0) {
        throw new FieldProblem("metadata.labels", `"${text}" is not key=value`);
      }
      labels[text.slice(0, at).trim()] = text.slice(at + 1).trim();
    }
    return labels;
  }

  body() {
    const labels = this.labels();
    const value = this.value();
    if (this.editing) {
      const object = structuredClone(this.editing);
      object.metadata.labels = labels;
      object.spec = { ...object.spec, description: $("sv-description").value, decrypters: this.decrypters() };
      delete object.spec.value;
      if (value !== "") {
        object.spec.value = value; // empty: the current value is kept
      }
      delete object.metadata.managedFields;
      return object;
    }
    const name = $("sv-name").value.trim();
    const metadata = $("sv-generate").checked ? { generateName: name } : { name };
    if (Object.keys(labels).length) {
      metadata.labels = labels;
    }
    return {
      apiVersion: "secret.grafana.app/v1beta1",
      kind: "SecureValue",
      metadata,
      spec: { description: $("sv-description").value, value, decrypters: this.decrypters() },
    };
  }

  async save() {
    this.clearErrors();
    let body;
    try {
      body = this.body();
    } catch (problem) {
      if (problem instanceof FieldProblem) {
        $(FIELD_ERRORS[problem.field]).textContent = problem.message;
        return;
      }
      throw problem;
    }
    const button = $("save-secret");
    button.disabled = true;
    try {
      const saved = this.editing
        ? await request("PUT", securevalues(this.namespace, this.editing.metadata.name), body)
        : await request("POST", securevalues(this.namespace), body);
      this.clearValue();
      this.close();
      this.announce(`Saved ${saved.metadata.name} (version ${saved.status.version}).`);
    } catch (error) {
      this.showError(error);
    } finally {
      button.disabled = false;
      body = null;
    }
  }

  showError(error) {
    if (!(error instanceof ApiError)) {
      $("form-error").textContent = String(error.message || error);
      return;
    }
    if (error.code === 409 && this.editing) {
      $("conflict").hidden = false;
      return;
    }
    let placed = false;
    for (const cause of error.causes) {
      const field = Object.keys(FIELD_ERRORS).find((path) => (cause.field || "").startsWith(path));
      if (field) {
        const target = $(FIELD_ERRORS[field]);
        target.textContent = [target.textContent, cause.message].filter(Boolean).join("; ");
        placed = true;
      }
    }
    if (error.code === 403) {
      $("form-error").textContent = `Not allowed: ${error.message}`;
    } else if (!placed || error.code !== 422) {
      $("form-error").textContent = error.message;
    } else {
      $("form-error").textContent = "Please correct the fields marked below.";
    }
  }
}

class FieldProblem extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

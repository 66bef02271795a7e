// The page: sign-in, the namespace picker, the tabs, and the dialogs wired together.

import { request, securevalues, setCsrfToken, whenSignedOut } from "./api.js";
import { $, clear, h } from "./dom.js";
import { SecretForm } from "./form.js";
import { KeeperList } from "./keepers.js";
import { SecretList } from "./secrets.js";

const SESSION = "/ui/api/session";
let session = null;
let pendingDelete = [];

function announce(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

const form = new SecretForm({ announce });
const list = new SecretList({
  announce,
  onEdit: (name) => form.openEdit(current().name, name),
  onDelete: (names) => confirmDelete(names),
});
const keeperList = new KeeperList({ announce });

function current() {
  return session.namespaces.find((ns) => ns.name === $("namespace").value) || session.namespaces[0];
}

function showSignIn(message = "") {
  list.stop();
  session = null;
  setCsrfToken("");
  for (const dialog of document.querySelectorAll("dialog[open]")) {
    dialog.close();
  }
  $("app-view").hidden = true;
  $("session-bar").hidden = true;
  $("sign-in-view").hidden = false;
  $("sign-in-error").textContent = message;
  clear($("secret-rows"));
  clear($("keeper-rows"));
  $("status").textContent = "";
  $("token").focus();
}

function showApp(info) {
  session = info;
  setCsrfToken(info.csrfToken);
  $("sign-in-view").hidden = true;
  $("app-view").hidden = false;
  $("session-bar").hidden = false;
  $("subject").textContent = info.subject;
  const picker = $("namespace");
  const previous = picker.value;
  clear(picker);
  for (const ns of info.namespaces) {
    picker.append(h("option", { value: ns.name }, ns.name));
  }
  if (info.namespaces.some((ns) => ns.name === previous)) {
    picker.value = previous;
  }
  if (!info.namespaces.length) {
    announce("This token may not see any namespace.", true);
    return;
  }
  switchNamespace();
}

function switchNamespace() {
  const ns = current();
  $("namespace-ids").textContent = `InfluxDB org ID ${ns.influxdbOrgId} · Cloudflare account ID ${ns.cloudflareAccountId}`;
  announce("");
  $("tab-keepers").hidden = !ns.allowed.listKeepers;
  selectTab($("tab-secrets").getAttribute("aria-selected") === "true" || !ns.allowed.listKeepers ? "secrets" : "keepers");
}

function selectTab(which) {
  const ns = current();
  for (const tab of ["secrets", "keepers"]) {
    const on = tab === which;
    $(`tab-${tab}`).setAttribute("aria-selected", String(on));
    $(`tab-${tab}`).tabIndex = on ? 0 : -1;
    $(`${tab}-panel`).hidden = !on;
  }
  if (which === "secrets") {
    list.show(ns.name, ns.allowed);
  } else {
    list.stop();
    keeperList.show(ns.name, ns.allowed);
  }
}

function confirmDelete(names) {
  if (!names.length) {
    return;
  }
  pendingDelete = names;
  const one = names.length === 1;
  $("delete-title").textContent = one ? `Delete secret ${names[0]}?` : `Delete ${names.length} secrets?`;
  $("delete-text").textContent = `This deletes from namespace ${current().name}:`;
  const ul = $("delete-names");
  clear(ul);
  for (const name of names) {
    ul.append(h("li", {}, name));
  }
  $("delete-error").textContent = "";
  $("delete-dialog").showModal();
  $("cancel-delete").focus();
}

async function deleteConfirmed() {
  const namespace = current().name;
  const failed = [];
  for (const name of pendingDelete) {
    try {
      await request("DELETE", securevalues(namespace, name));
    } catch (error) {
      failed.push(`${name}: ${error.message}`);
    }
  }
  if (failed.length) {
    $("delete-error").textContent = failed.join("; ");
    return;
  }
  const count = pendingDelete.length;
  $("delete-dialog").close();
  announce(count === 1 ? `Deleted ${pendingDelete[0]}.` : `Deleted ${count} secrets.`);
  pendingDelete = [];
}

async function signIn(event) {
  event.preventDefault();
  const input = $("token");
  const token = input.value.trim();
  input.value = ""; // the token is never kept in the page
  $("sign-in-error").textContent = "";
  if (!token) {
    $("sign-in-error").textContent = "Please enter a token.";
    return;
  }
  try {
    showApp(await request("POST", SESSION, { token }));
  } catch (error) {
    $("sign-in-error").textContent = error.message;
    input.focus();
  }
}

async function signOut() {
  try {
    await request("DELETE", SESSION);
  } finally {
    showSignIn("You are signed out.");
  }
}

function tabKeys(event) {
  if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
    const next = event.target.id === "tab-secrets" ? "keepers" : "secrets";
    if (!$(`tab-${next}`).hidden) {
      selectTab(next);
      $(`tab-${next}`).focus();
    }
  }
}

async function start() {
  whenSignedOut((message) => showSignIn(message));
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("namespace").addEventListener("change", switchNamespace);
  $("tab-secrets").addEventListener("click", () => selectTab("secrets"));
  $("tab-keepers").addEventListener("click", () => selectTab("keepers"));
  $("tab-secrets").addEventListener("keydown", tabKeys);
  $("tab-keepers").addEventListener("keydown", tabKeys);
  $("add-secret").addEventListener("click", () => form.openAdd(current().name));
  $("add-first").addEventListener("click", () => form.openAdd(current().name));
  $("cancel-delete").addEventListener("click", () => $("delete-dialog").close());
  $("delete-form").addEventListener("submit", (event) => {
    event.preventDefault();
    deleteConfirmed();
  });
  try {
    showApp(await request("GET", SESSION));
  } catch {
    showSignIn();
  }
}

start();

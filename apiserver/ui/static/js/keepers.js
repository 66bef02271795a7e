// The Keepers tab: which keeper stores new values, and (for admins) activating another one.

import { keepers, request } from "./api.js";
import { $, clear, h } from "./dom.js";

const PROVIDERS = ["aws", "azure", "gcp", "hashiCorpVault"];

export class KeeperList {
  constructor({ announce }) {
    this.announce = announce;
    this.namespace = "";
    this.allowed = {};
  }

  async show(namespace, allowed) {
    this.namespace = namespace;
    this.allowed = allowed;
    const rows = $("keeper-rows");
    let list;
    try {
      list = await request("GET", keepers(namespace));
    } catch (error) {
      clear(rows);
      if (error.code === 401) {
        return; // the page is back at sign-in
      }
      rows.append(h("tr", {}, h("td", { colspan: 5 }, `Keepers cannot be shown: ${error.message}`)));
      return;
    }
    const configured = list.items.filter((item) => item.metadata.name !== "system");
    const anyActive = configured.some((item) => item.status && item.status.active);
    const system = { metadata: { name: "system" }, spec: { description: "This server's encrypted database" }, status: { active: !anyActive } };
    clear(rows);
    for (const keeper of [system, ...configured]) {
      rows.append(this.row(keeper));
    }
  }

  row(keeper) {
    const name = keeper.metadata.name;
    const active = Boolean(keeper.status && keeper.status.active);
    const type = PROVIDERS.find((p) => keeper.spec && keeper.spec[p]) || "system";
    const action =
      this.allowed.activateKeepers && !active
        ? h("button", { type: "button", "aria-label": `Activate ${name}`, onclick: () => this.activate(name) }, "Activate")
        : null;
    return h(
      "tr",
      { "data-name": name },
      h("td", { "data-label": "Keeper", class: "name" }, name),
      h("td", { "data-label": "Type" }, type),
      h("td", { "data-label": "Description" }, (keeper.spec && keeper.spec.description) || ""),
      h("td", { "data-label": "State" }, active ? h("span", { class: "badge active" }, "Active") : "Inactive"),
      h("td", { class: "row-actions" }, action),
    );
  }

  async activate(name) {
    try {
      await request("POST", `${keepers(this.namespace, name)}/activate`);
      this.announce(`Keeper ${name} is now active: new values are stored there.`);
    } catch (error) {
      this.announce(`Could not activate ${name}: ${error.message}`, true);
    }
    await this.show(this.namespace, this.allowed);
  }
}

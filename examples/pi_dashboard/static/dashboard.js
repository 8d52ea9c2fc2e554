// The dashboard page: folder columns fed by polling GET /feed, a test form (POST /classify), a folder editor
// (PUT /folders), corrections by dragging a card to another column or picking its priority (POST /feed/{id}/correct).
"use strict";

const items = new Map();          // id -> feed item
let folders = [];                 // [{name, description}]
let lastId = 0;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function pct(x) { return `${Math.round(x * 100)}%`; }

async function correct(id, change) {
  const res = await fetch(`/feed/${id}/correct`, {method: "POST", headers: {"Content-Type": "application/json"},
                                                  body: JSON.stringify(change)});
  if (!res.ok) { document.getElementById("status").textContent = await errorText(res); return; }
  add([await res.json()]);
  render();
}

function card(item) {
  const c = el("article", item.corrected ? "card corrected" : "card");
  c.dataset.id = item.id;
  c.draggable = true;  // drag to another column: a correction the model reads from the next notification on
  c.ondragstart = (event) => event.dataTransfer.setData("text/plain", String(item.id));
  c.append(el("div", "app", item.app || "?"), el("div", "title", item.title));
  if (item.body) c.append(el("div", "body", item.body));
  const meta = el("div", "meta");
  const badge = el("span", `badge p${item.priority}`, `P${item.priority}`);
  badge.title = `Android importance ${item.android_importance}, iOS ${item.ios_interruption_level}`;
  const pick = el("select", "priority-pick");
  pick.title = "Correct the priority";
  for (const p of [1, 2, 3]) { const o = el("option", "", `P${p}`); o.value = p; o.selected = p === item.priority; pick.append(o); }
  pick.onchange = () => correct(item.id, {priority: Number(pick.value)});
  meta.append(badge, pick, el("span", "confidence", `folder ${pct(item.folder_confidence)} · priority ${pct(item.priority_confidence)}`));
  c.append(meta);
  return c;
}

function column(name, cls) {
  const col = el("div", cls);
  col.dataset.folder = name;
  if (cls.includes("earlier")) return col;  // not a folder of the current set: nothing can be filed there
  col.ondragover = (event) => event.preventDefault();
  col.ondrop = (event) => {
    event.preventDefault();
    const id = Number(event.dataTransfer.getData("text/plain"));
    if (id && items.get(id) && items.get(id).folder !== name) correct(id, {folder: name});
  };
  const h = el("h2");
  h.append(el("span", "", name), el("span", "count muted", "0"));
  col.append(h);
  return col;
}

function render() {
  const box = document.getElementById("columns");
  box.replaceChildren();
  const cols = new Map();
  for (const f of folders) {
    const col = column(f.name, "column");
    col.title = f.description;
    cols.set(f.name, col);
    box.append(col);
  }
  const earlier = column("Earlier folders", "column earlier");
  for (const item of [...items.values()].sort((a, b) => b.id - a.id)) {
    (cols.get(item.folder) || earlier).append(card(item));
  }
  if (earlier.querySelector(".card")) box.append(earlier);
  for (const col of box.children) col.querySelector(".count").textContent = col.querySelectorAll(".card").length;
}

function sameFolders(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

function add(newItems) {
  for (const item of newItems) { items.set(item.id, item); lastId = Math.max(lastId, item.id); }
}

async function poll() {
  try {
    const res = await fetch(`/feed?after=${lastId}`);
    const feed = await res.json();
    const changed = feed.items.length > 0 || !sameFolders(feed.folders, folders);
    if (!sameFolders(feed.folders, folders)) { folders = feed.folders; renderEditor(); }
    add(feed.items);
    if (changed) render();
    document.getElementById("status").textContent = `live · ${items.size} notifications`;
  } catch (err) {
    document.getElementById("status").textContent = "offline, retrying…";
  }
}

function folderRow(f) {
  const row = el("div", "folder-row");
  const name = el("input"); name.name = "name"; name.value = f.name; name.placeholder = "Name";
  const remove = el("button", "", "✕"); remove.type = "button"; remove.title = "Remove folder";
  remove.onclick = () => row.remove();
  const desc = el("textarea"); desc.name = "description"; desc.rows = 2; desc.value = f.description;
  desc.placeholder = "What belongs here (the model reads this)";
  row.append(name, remove, desc);
  return row;
}

function renderEditor() {
  document.getElementById("folder-rows").replaceChildren(...folders.map(folderRow));
}

function message(id, text, isError) {
  const p = document.getElementById(id);
  p.textContent = text;
  p.className = isError ? "error" : "muted";
}

async function errorText(res) {
  const data = await res.json().catch(() => ({}));
  return typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || res.statusText);
}

document.getElementById("test-form").onsubmit = async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  message("form-message", "classifying…");
  const res = await fetch("/classify", {method: "POST", headers: {"Content-Type": "application/json"},
                                         body: JSON.stringify(Object.fromEntries(form))});
  if (!res.ok) { message("form-message", await errorText(res), true); return; }
  const item = await res.json();
  add([item]);
  render();
  message("form-message", `${item.folder}, priority ${item.priority}`);
};

document.getElementById("add-folder").onclick = () => {
  document.getElementById("folder-rows").append(folderRow({name: "", description: ""}));
};

document.getElementById("folders-form").onsubmit = async (event) => {
  event.preventDefault();
  const rows = [...document.querySelectorAll("#folder-rows .folder-row")];
  const body = rows.map((r) => ({name: r.querySelector("[name=name]").value,
                                 description: r.querySelector("[name=description]").value}));
  const res = await fetch("/folders", {method: "PUT", headers: {"Content-Type": "application/json"},
                                       body: JSON.stringify(body)});
  if (!res.ok) { message("folders-message", await errorText(res), true); return; }
  folders = await res.json();
  renderEditor();
  render();
  message("folders-message", "Saved: new notifications use these folders.");
};

poll();
setInterval(poll, 1000);

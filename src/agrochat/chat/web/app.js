"use strict";
// agrochat web page: plain JS over the server's JSON API (/v1/predict, /v1/explain, /v1/chat/completions).
const $ = (id) => document.getElementById(id);
const DNA_RUN = /[ACGTUNacgtun]{20,}/;
const state = { model: "agrochat", messages: [], sentSequences: new Set() };

function authHeaders() {
  const key = sessionStorage.getItem("agrochat-api-key");
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function api(path, body, asked = false) {
  const headers = { ...authHeaders(), ...(body === undefined ? {} : { "Content-Type": "application/json" }) };
  const res = await fetch(path, body === undefined ? { headers } : {
    method: "POST", headers, body: JSON.stringify(body),
  });
  if (res.status === 401 && !asked) {  // the server has an API key: ask for it once, keep it for the session
    const key = window.prompt("This server needs its API key:");
    if (key) {
      sessionStorage.setItem("agrochat-api-key", key.trim());
      return api(path, body, true);
    }
  }
  const data = await res.json().catch(() => ({ error: { message: `HTTP ${res.status}` } }));
  if (!res.ok) throw new Error((data.error && data.error.message) || `HTTP ${res.status}`);
  return data;
}

function parseInput(text) {
  // FASTA text -> records; anything else -> one sequence (whitespace and digits dropped)
  text = text.trim();
  if (!text) return [];
  if (!text.startsWith(">")) return [{ id: "seq1", sequence: text.replace(/[\s\d]+/g, "") }];
  const records = [];
  for (const block of text.split(/^>/m).filter((b) => b.trim())) {
    const [header, ...lines] = block.split(/\r?\n/);
    records.push({ id: header.trim().split(/\s+/)[0] || `record${records.length + 1}`,
                   sequence: lines.join("").replace(/\s+/g, "") });
  }
  return records;
}

function fmt(x, digits = 2) { return Number(x).toFixed(digits); }

function ordinal(p) {
  const n = Math.round(p), s = ["th", "st", "nd", "rd"], v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

function showPrediction(p) {
  $("result").hidden = false;
  $("table-box").hidden = true;
  $("value").textContent = fmt(p.value);
  const [lo68, hi68] = p.interval68, [lo95, hi95] = p.interval95;
  const symmetric = Math.abs((hi68 - p.value) - (p.value - lo68)) < 0.005;
  $("interval").textContent = symmetric ? `± ${fmt(p.uncertainty)}` : `(mean; 68% interval ${fmt(lo68)} to ${fmt(hi68)})`;
  $("unit").textContent = p.unit;
  $("percentile").textContent = `${ordinal(p.percentile)} percentile (${p.level}) · ${p.key} · ` +
    `95% interval ${fmt(lo95)} to ${fmt(hi95)}`;
  $("ood").hidden = !p.ood;
  $("ood").textContent = p.ood ? `Caution: unlike the training sequences (${p.ood_reason}); interval doubled.` : "";
  $("explanation").textContent = p.explanation || "";
  $("plot").hidden = true;
  $("heatmap-box").hidden = true;
  $("regions").textContent = "";
}

async function showExplanation(sequence, key) {
  const res = await api("/v1/explain", { sequence, task: key, tissue: null, plot: true, heatmap: true });
  if (res.plot_png) {
    $("plot").src = "data:image/png;base64," + res.plot_png;
    $("plot").hidden = false;
  }
  if (res.heatmap_png) {
    $("heatmap").src = "data:image/png;base64," + res.heatmap_png;
    $("heatmap-box").hidden = false;
  }
  if (res.explanation) $("explanation").textContent = res.explanation;
  $("regions").textContent = "";
  for (const r of res.regions) {
    const li = document.createElement("li");
    const rel = (x) => `${x >= 0 ? "+" : ""}${x}`;
    const names = r.matches.length ? r.matches.slice(0, 3).map((m) => m.name).join(", ") : "no known motif";
    li.textContent = `bases ${r.start}-${r.end} (${rel(r.relative_start)} to ${rel(r.relative_end)}, ${r.sequence}): ` +
      `effect ${fmt(r.effect)} when shuffled; matches ${names}`;
    $("regions").append(li);
  }
}

const TSV_COLS = ["id", "key", "value", "uncertainty", "percentile", "level", "unit", "motifs", "ood", "ood_reason",
  "low68", "high68", "low95", "high95"];

function cell(row, c) {
  if (c === "motifs") return [...new Set(row.motifs.map((m) => m.name))].sort().join(",");
  if (c === "value" || c === "uncertainty") return fmt(row[c], 4);
  const bound = { low68: ["interval68", 0], high68: ["interval68", 1], low95: ["interval95", 0], high95: ["interval95", 1] }[c];
  if (bound) return fmt(row[bound[0]][bound[1]], 4);
  if (c === "percentile") return fmt(row[c], 1);
  return String(row[c]);
}

function showTable(rows) {
  $("result").hidden = true;
  $("table-box").hidden = false;
  const head = $("results-table").tHead, body = $("results-table").tBodies[0];
  head.textContent = "";
  body.textContent = "";
  const tr = head.insertRow();
  for (const c of TSV_COLS) { const th = document.createElement("th"); th.textContent = c; tr.append(th); }
  for (const row of rows) {
    const r = body.insertRow();
    for (const c of TSV_COLS) r.insertCell().textContent = cell(row, c);
  }
  const tsv = [TSV_COLS.join("\t"), ...rows.map((row) => TSV_COLS.map((c) => cell(row, c)).join("\t"))].join("\n");
  $("tsv-link").href = URL.createObjectURL(new Blob([tsv + "\n"], { type: "text/tab-separated-values" }));
}

async function busy(button, errorBox, fn) {
  button.disabled = true;
  if (errorBox) errorBox.textContent = "";
  try { await fn(); } catch (e) { if (errorBox) errorBox.textContent = e.message; else throw e; }
  finally { button.disabled = false; }
}

async function onPredict() {
  await busy($("predict-btn"), $("predict-error"), async () => {
    const text = $("sequence").value, key = $("key").value;
    const records = parseInput(text);
    if (!records.length) throw new Error("paste a sequence or upload a FASTA file first");
    const body = text.trim().startsWith(">") ? { fasta: text } : { sequences: records };
    const res = await api("/v1/predict", { ...body, task: key, tissue: null });
    if (res.data.length === 1) {
      showPrediction(res.data[0]);
      await showExplanation(res.data[0].sequence, res.key);
    } else {
      showTable(res.data);
    }
  });
}

function addTurn(role, text) {
  const div = document.createElement("div");
  div.className = `turn ${role}`;
  div.textContent = (role === "user" ? "You: " : role === "assistant" ? "agrochat: " : "error: ") + text;
  $("conversation").append(div);
  $("conversation").scrollTop = $("conversation").scrollHeight;
  return div;
}

async function onAsk(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  await busy($("ask-btn"), null, async () => {
    let content = question, note = "";
    const seq = (parseInput($("sequence").value)[0] || {}).sequence;
    if (seq && !DNA_RUN.test(question) && !state.sentSequences.has(seq)) {
      content = `${question}\n${seq}`;  // the sequence in the box joins the turn once
      note = ` [+ sequence, ${seq.length} bp]`;
    }
    addTurn("user", question + note);
    const messages = [...state.messages, { role: "user", content }];
    try {
      const res = await api("/v1/chat/completions", { model: state.model, messages });
      const text = res.choices[0].message.content;
      state.messages = [...messages, { role: "assistant", content: text }];
      if (seq && content !== question) state.sentSequences.add(seq);
      $("question").value = "";
      addTurn("assistant", text);
      const preds = (res.agrochat && res.agrochat.predictions) || [];
      if (preds.length) {
        showPrediction(preds[0]);
        await showExplanation(preds[0].sequence, preds[0].key);
      }
    } catch (e) {
      addTurn("error", e.message);
    }
  });
}

function onReset() {
  state.messages = [];
  state.sentSequences = new Set();
  $("conversation").textContent = "";
}

async function onFile(event) {
  const file = event.target.files[0];
  if (file) $("sequence").value = await file.text();
}

async function init() {
  $("predict-btn").addEventListener("click", onPredict);
  $("chat-form").addEventListener("submit", onAsk);
  $("reset-btn").addEventListener("click", onReset);
  $("fasta-file").addEventListener("change", onFile);
  try {
    const [health, tasks, models] = await Promise.all([api("/health"), api("/v1/tasks"), api("/v1/models")]);
    state.model = models.data[0].id;
    for (const k of tasks.keys) {
      const opt = new Option(`${k.label} (${k.key})`, k.key);
      $("key").append(opt);
    }
    $("key").value = tasks.default;
    $("status").textContent = `model ${health.model} · ${health.keys} task keys · ready`;
    document.body.dataset.ready = "true";
  } catch (e) {
    $("status").textContent = `server not reachable: ${e.message}`;
  }
}

init();

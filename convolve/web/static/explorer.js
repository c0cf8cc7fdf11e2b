// The convolve explorer's page: plain JavaScript, no framework, nothing fetched from elsewhere.
// It asks the server (convolve/web/app.py) for the model, an image's analysis (prediction and
// every layer's maps as one byte per value), Grad-CAM and saliency, and one value's arithmetic.
//
// For benchmarks/explore.py: window.explorerReady turns true (and the performance mark
// 'explorer-ready' is set) when the first prediction is drawn; window.explorerTimings gets
// {what, ms} for each update, from the user's action (upload chosen, stroke finished, test image
// clicked) to the prediction and every feature map drawn.
"use strict";

window.explorerReady = false;
window.explorerTimings = [];

const state = { model: null, image: null, selectedClass: null, clicked: null };
const $ = (id) => document.getElementById(id);

// ---- colours -------------------------------------------------------------------------------
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
const DIVERGING = [[33, 102, 172], [146, 197, 222], [255, 255, 255], [244, 165, 130], [178, 24, 43]];
const INFERNO = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];

function ramp(stops) {
  const table = new Uint8ClampedArray(256 * 3);
  for (let v = 0; v < 256; v++) {
    const t = (v / 255) * (stops.length - 1);
    const i = Math.min(Math.floor(t), stops.length - 2);
    const f = t - i;
    for (let c = 0; c < 3; c++) table[v * 3 + c] = stops[i][c] + f * (stops[i + 1][c] - stops[i][c]);
  }
  return table;
}
const TABLES = { unsigned: ramp(VIRIDIS), signed: ramp(DIVERGING), heat: ramp(INFERNO) };

function bytes(b64) {
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(3) : String(Number(v.toPrecision(4)));
}

// the value of the explained unit: enough digits to compare with the model's float32
function exact(v) {
  return String(Number(v.toPrecision(7)));
}

// ---- drawing -------------------------------------------------------------------------------
function paint(canvas, codes, offset, width, height, table) {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const v = codes[offset + i];
    img.data[4 * i] = table[3 * v];
    img.data[4 * i + 1] = table[3 * v + 1];
    img.data[4 * i + 2] = table[3 * v + 2];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

function drawImage(canvas, image) {
  const { height, width, channels } = image;
  const px = bytes(image.data);
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) img.data[4 * i + c] = px[i * channels + (channels >= 3 ? c : 0)];
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return img;
}

function drawOverlay(canvas, map, alpha) {
  const image = state.image.image;
  const base = drawImage(canvas, image);
  const codes = bytes(map);
  const table = TABLES.heat;
  const ctx = canvas.getContext("2d");
  const out = ctx.createImageData(image.width, image.height);
  for (let i = 0; i < codes.length; i++) {
    const v = codes[i];
    const grey = (base.data[4 * i] + base.data[4 * i + 1] + base.data[4 * i + 2]) / 3;
    for (let c = 0; c < 3; c++) out.data[4 * i + c] = (1 - alpha) * grey + alpha * table[3 * v + c];
    out.data[4 * i + 3] = 255;
  }
  ctx.putImageData(out, 0, 0);
}

// ---- messages and requests -------------------------------------------------------------------
function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
}

async function api(url, options) {
  const response = await fetch(url, options);
  let body;
  try {
    body = await response.json();
  } catch (e) {
    body = { error: `the server answered ${response.status} without JSON` };
  }
  if (!response.ok) {
    const error = new Error(body.error || `the server answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function reportError(error) {
  const status = error.status ? ` (HTTP ${error.status})` : "";
  showMessage(`${error.message}${status}`);
}

// ---- the model -------------------------------------------------------------------------------
function buildModel(model) {
  state.model = model;
  $("model-name").textContent = model.name;
  const { height, width, channels } = model.input;
  $("model-summary").textContent =
    `${model.layers.length} layers, input ${height}x${width}x${channels}, ${model.classes.length} classes`;
  const layers = $("layers");
  layers.textContent = "";
  for (const layer of model.layers) {
    const panel = document.createElement("div");
    panel.className = "card layer";
    panel.dataset.layer = layer.name;
    const title = document.createElement("h3");
    title.textContent = `${layer.name} `;
    const info = document.createElement("span");
    info.className = "muted";
    info.textContent = `${layer.type} -> (${layer.shape.join(", ")})`;
    title.appendChild(info);
    const note = document.createElement("p");
    note.className = "muted note";
    const maps = document.createElement("div");
    maps.className = "maps";
    maps.dataset.layer = layer.name;
    panel.append(title, note, maps);
    layers.appendChild(panel);
  }
  buildFilters(model.filters);
  buildTestImages(model.test_images);
  if (model.drawable) setUpDrawing();
}

function buildFilters(filters) {
  if (!filters) return;
  $("filters-card").hidden = false;
  $("filters-title").textContent =
    `${filters.layer}: ${filters.count} of ${filters.kernel_size.join("x")}x${filters.in_channels}` +
    (filters.values.length < filters.count ? ` (the first ${filters.values.length} shown)` : "");
  const box = $("filters");
  box.textContent = "";
  for (const [f, kernel] of filters.values.entries()) {
    const kh = kernel.length, kw = kernel[0].length, c = kernel[0][0].length;
    const flat = kernel.flat(2);
    const scale = Math.max(...flat.map(Math.abs)) || 1;
    const canvas = document.createElement("canvas");
    canvas.className = "pixels filter";
    canvas.title = `filter ${f}`;
    const codes = new Uint8Array(kh * kw);
    for (let i = 0; i < kh * kw; i++) codes[i] = Math.round(128 + (127 * flat[i * c]) / scale);
    paint(canvas, codes, 0, kw, kh, TABLES.signed);
    box.appendChild(canvas);
  }
}

function buildTestImages(tests) {
  if (!tests.count) return;
  $("test-box").hidden = false;
  $("test-title").textContent = `${tests.title}: click one, or choose by number`;
  $("test-index").max = tests.count - 1;
  const box = $("test-images");
  for (const sample of tests.samples) {
    const canvas = document.createElement("canvas");
    canvas.className = "pixels thumb";
    canvas.title = `test image ${sample.index}: ${state.model.classes[sample.label]}`;
    canvas.dataset.index = sample.index;
    drawImage(canvas, sample.image);
    canvas.addEventListener("click", () => showTestImage(sample.index));
    box.appendChild(canvas);
  }
  $("test-show").addEventListener("click", () => showTestImage(Number($("test-index").value)));
}

// ---- an image's analysis ---------------------------------------------------------------------
function render(analysis) {
  state.image = analysis;
  state.clicked = null;
  state.selectedClass = analysis.predicted;
  $("source").textContent = analysis.source;
  drawImage($("input-image"), analysis.image);
  const overlay = $("field-overlay");
  overlay.width = analysis.image.width * 10;
  overlay.height = analysis.image.height * 10;
  overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
  renderPrediction(analysis);
  for (const layer of analysis.layers) renderLayer(layer);
}

function renderPrediction(analysis) {
  const box = $("prediction");
  box.textContent = "";
  const top = analysis.prediction[0];
  const head = document.createElement("p");
  head.className = "top";
  head.textContent = `${top.name} (${(100 * top.probability).toFixed(1)}%)`;
  box.appendChild(head);
  for (const item of analysis.prediction) {
    const row = document.createElement("div");
    row.className = "class-row" + (item.index === state.selectedClass ? " selected" : "");
    row.dataset.class = item.index;
    const name = document.createElement("span");
    name.className = "class-name";
    name.textContent = item.name;
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${(100 * item.probability).toFixed(1)}%`;
    bar.appendChild(fill);
    const value = document.createElement("span");
    value.className = "probability";
    value.textContent = item.probability.toFixed(3);
    row.append(name, bar, value);
    row.addEventListener("click", () => {
      state.selectedClass = item.index;
      for (const other of box.querySelectorAll(".class-row")) other.classList.toggle("selected", other === row);
      loadAttribution().catch(reportError);
    });
    box.appendChild(row);
  }
}

function renderLayer(layer) {
  const maps = document.querySelector(`.maps[data-layer="${CSS.escape(layer.name)}"]`);
  const panel = maps.parentElement;
  maps.textContent = "";
  const codes = bytes(layer.data);
  const table = layer.signed ? TABLES.signed : TABLES.unsigned;
  const range = layer.signed ? `-${fmt(layer.scale)} .. ${fmt(layer.scale)}` : `0 .. ${fmt(layer.scale)}`;
  const shown = layer.shown < layer.channels ? `, the first ${layer.shown} of ${layer.channels} channels` : "";
  panel.querySelector(".note").textContent = `values ${range}${shown}`;
  if (layer.kind === "vector") {
    const n = layer.width, columns = Math.min(n, 40), rows = Math.ceil(n / columns);
    const padded = new Uint8Array(columns * rows).fill(layer.signed ? 128 : 0);
    padded.set(codes);
    const canvas = document.createElement("canvas");
    canvas.className = "pixels vector";
    paint(canvas, padded, 0, columns, rows, table);
    canvas.style.width = `${Math.min(columns * 14, 560)}px`;
    canvas.addEventListener("click", (e) => {
      const { row, col } = cell(canvas, e, rows, columns);
      const unit = row * columns + col;
      if (unit < n) explainUnit(layer.name, { channel: unit }, canvas, row, col);
    });
    maps.appendChild(canvas);
    return;
  }
  // tiles of a layer share about one row of the panel: 8 channels of 26x26 at 96 px, 16 at 52 px
  const across = Math.max(1, Math.min(layer.shown, 16));
  const size = Math.max(40, Math.min(96, Math.floor((maps.clientWidth || 900) / across) - 6));
  for (let k = 0; k < layer.shown; k++) {
    const canvas = document.createElement("canvas");
    canvas.className = "pixels map";
    canvas.dataset.channel = k;
    canvas.title = `${layer.name}, channel ${k}`;
    paint(canvas, codes, k * layer.height * layer.width, layer.width, layer.height, table);
    canvas.style.width = `${layer.height === 1 ? 4 * size : size}px`;
    canvas.addEventListener("click", (e) => {
      const { row, col } = cell(canvas, e, layer.height, layer.width);
      explainUnit(layer.name, { row, col, channel: k }, canvas, row, col);
    });
    maps.appendChild(canvas);
  }
}

function cell(canvas, event, rows, columns) {
  const box = canvas.getBoundingClientRect();
  const col = Math.min(columns - 1, Math.max(0, Math.floor(((event.clientX - box.left) / box.width) * columns)));
  const row = Math.min(rows - 1, Math.max(0, Math.floor(((event.clientY - box.top) / box.height) * rows)));
  return { row, col };
}

// ---- Grad-CAM and saliency -------------------------------------------------------------------
async function loadAttribution() {
  const analysis = state.image;
  const k = state.selectedClass;
  const query = `?class=${k}`;
  const plus = $("cam-method").value;
  const [cam, sal] = await Promise.all([
    api(`/api/images/${analysis.id}/grad-cam${query}&plus=${plus}`),
    api(`/api/images/${analysis.id}/saliency${query}`),
  ]);
  if (state.image !== analysis) return; // another image came meanwhile
  drawOverlay($("grad-cam"), cam.map, 0.6);
  drawOverlay($("saliency"), sal.map, 0.75);
  const zero = !(cam.scale > 0);
  const caption = $("grad-cam-layer");
  caption.textContent = zero ? `of ${cam.layer}: 0 everywhere, try Grad-CAM++` : `of ${cam.layer}`;
  caption.title = zero
    ? "No position of this layer has a positive weighted sum of its channels for this class, so " +
      "Grad-CAM (their ReLU) is 0 everywhere; Grad-CAM++ weighs only positive gradients."
    : "";
  caption.classList.toggle("warning", zero);
  $("attribution-class").textContent = `overlays for the class ${state.model.classes[k]}`;
}

// ---- one value's arithmetic -------------------------------------------------------------------
async function explainUnit(layer, where, canvas, row, col) {
  const params = new URLSearchParams({ layer, channel: where.channel });
  if (where.row !== undefined) params.set("row", where.row);
  if (where.col !== undefined) params.set("col", where.col);
  const box = $("explain");
  for (const old of document.querySelectorAll(".clicked")) old.classList.remove("clicked");
  canvas.classList.add("clicked");
  markCell(canvas, row, col);
  try {
    const unit = await api(`/api/images/${state.image.id}/explain?${params}`);
    renderExplanation(unit);
    drawField(unit.receptive_field);
    showMessage("");
  } catch (error) {
    box.textContent = "";
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = error.message;
    box.appendChild(p);
    drawField(null);
  }
}

function markCell(canvas, row, col) {
  for (const old of document.querySelectorAll(".marker")) old.remove();
  const rect = canvas.getBoundingClientRect();
  const parent = canvas.parentElement.getBoundingClientRect();
  const w = rect.width / canvas.width, h = rect.height / canvas.height;
  const marker = document.createElement("div");
  marker.className = "marker";
  marker.style.left = `${rect.left - parent.left + col * w}px`;
  marker.style.top = `${rect.top - parent.top + row * h}px`;
  marker.style.width = `${w}px`;
  marker.style.height = `${h}px`;
  canvas.parentElement.appendChild(marker);
}

function drawField(field) {
  const overlay = $("field-overlay");
  const ctx = overlay.getContext("2d");
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  if (!field || field.length !== 2) return;
  const sx = overlay.width / state.image.image.width, sy = overlay.height / state.image.image.height;
  const [[r0, r1], [c0, c1]] = field;
  ctx.strokeStyle = "#ff2020";
  ctx.lineWidth = 3;
  ctx.strokeRect(c0 * sx + 1.5, r0 * sy + 1.5, (c1 - c0) * sx - 3, (r1 - r0) * sy - 3);
}

function grid(title, values, mark) {
  const table = document.createElement("table");
  table.className = "grid";
  const caption = document.createElement("caption");
  caption.textContent = title;
  table.appendChild(caption);
  const rows = Array.isArray(values[0]) ? values : [values];
  rows.forEach((row, i) => {
    const tr = document.createElement("tr");
    row.forEach((v, j) => {
      const td = document.createElement("td");
      td.textContent = fmt(v);
      if (mark && mark(i, j)) td.className = "mark";
      tr.appendChild(td);
    });
    table.appendChild(tr);
  });
  return table;
}

function line(text, className) {
  const p = document.createElement("p");
  if (className) p.className = className;
  p.textContent = text;
  return p;
}

function channelSlice(array, k) {
  // (kh, kw, C) -> (kh, kw) of channel k; (k,) windows stay as they are
  return array.map((row) => (Array.isArray(row) ? row.map((v) => (Array.isArray(v) ? v[k] : v)) : row));
}

function renderExplanation(unit) {
  const box = $("explain");
  box.textContent = "";
  box.dataset.layer = unit.layer;
  box.dataset.channel = unit.channel;
  box.dataset.position = unit.position.join(",");
  const where = unit.position.length
    ? `output (${unit.position.join(", ")}), channel ${unit.channel}`
    : `unit ${unit.channel}`;
  box.appendChild(line(`${unit.layer} (${unit.layer_type}), ${where}: ${unit.kind}, reading ${unit.source}`, "head"));
  const two = unit.inputs && Array.isArray(unit.inputs[0]) && Array.isArray(unit.inputs[0][0]);
  if (unit.kind === "convolution" && two && unit.inputs.length <= 7) {
    const channels = unit.details.channels || [];
    const sums = unit.details.channel_sums || [];
    const order = sums.map((s, i) => [Math.abs(s), i]).sort((a, b) => b[0] - a[0]).map((p) => p[1]);
    const shown = channels.length <= 3 ? channels.map((_, i) => i) : order.slice(0, 2).sort((a, b) => a - b);
    for (const k of shown) {
      const row = document.createElement("div");
      row.className = "grids";
      const label = channels.length > 1 ? ` (input channel ${channels[k]})` : "";
      row.append(
        grid("patch" + label, channelSlice(unit.inputs, k)), line("×", "op"),
        grid("kernel", channelSlice(unit.weights, k)), line("=", "op"),
        grid("products", channelSlice(unit.products, k)),
      );
      box.appendChild(row);
      if (channels.length > 1) box.appendChild(line(`sum over input channel ${channels[k]} = ${fmt(sums[k])}`));
    }
    if (channels.length > shown.length) {
      box.appendChild(line(`(${channels.length - shown.length} more input channels not drawn; these weigh the most)`, "muted"));
      box.appendChild(line(`sum over all ${channels.length} input channels = ${fmt(unit.total)}`));
    } else if (channels.length <= 1) {
      box.appendChild(line(`sum of the products = ${fmt(unit.total)}`));
    } else {
      box.appendChild(line(`sum over the ${channels.length} input channels = ${fmt(unit.total)}`));
    }
  } else if (unit.kind.endsWith("pooling") && unit.inputs && Array.isArray(unit.inputs[0])) {
    const winner = unit.details.winner;
    const local = winner && unit.inputs.length ? winner : null;
    box.appendChild(grid("window", unit.inputs, local ? (i, j) => unit.inputs[i][j] === unit.value : null));
    if (unit.kind === "max pooling") box.appendChild(line(`the largest value of the window`));
    else box.appendChild(line(`sum ${fmt(unit.total)} / ${unit.details.count} cells`));
  } else if (unit.kind === "dense" && unit.details.top_terms) {
    const rows = unit.details.top_terms.map(([i, x, w, p]) => [i, x, w, p]);
    const table = grid("largest terms: input index, x, w, w·x", rows);
    box.appendChild(table);
    box.appendChild(line(`the other terms add ${fmt(unit.details.rest)}; sum = ${fmt(unit.total)}`));
  } else {
    const pre = document.createElement("pre");
    pre.textContent = unit.text;
    box.appendChild(pre);
  }
  if (unit.bias !== null && unit.bias !== undefined) {
    box.appendChild(line(`+ bias ${fmt(unit.bias)} = ${fmt(unit.pre_activation)}`));
  }
  if (unit.activation && unit.activation !== "linear") {
    box.appendChild(line(`activation: ${unit.activation}(${fmt(unit.pre_activation)})`));
  }
  const result = line("", "result");
  result.append("= ");
  const value = document.createElement("span");
  value.id = "explain-value";
  value.textContent = exact(unit.value);
  result.appendChild(value);
  box.appendChild(result);
  if (unit.receptive_field) {
    const spans = unit.receptive_field.map(([a, b]) => `${a}..${b - 1}`);
    const axes = spans.length === 2 ? `rows ${spans[0]}, columns ${spans[1]}` : spans.join(", ");
    box.appendChild(line(`receptive field on the input: ${axes} (outlined in red)`, "muted"));
  }
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "as text (viz.explain_unit)";
  const pre = document.createElement("pre");
  pre.textContent = unit.text;
  details.append(summary, pre);
  box.appendChild(details);
}

// ---- choosing an image --------------------------------------------------------------------------
async function show(request, what) {
  const start = performance.now();
  try {
    const analysis = await request();
    render(analysis);
    showMessage("");
    window.explorerTimings.push({ what, ms: performance.now() - start });
    loadAttribution().catch(reportError);
    return analysis;
  } catch (error) {
    reportError(error);
    return null;
  }
}

function showTestImage(index) {
  return show(() => api(`/api/test-images/${index}`, { method: "POST" }), "test image");
}

function upload(blob, name, source) {
  const form = new FormData();
  form.append("file", blob, name);
  form.append("source", source);
  return show(() => api("/api/images", { method: "POST", body: form }), source);
}

function setUpDrawing() {
  $("draw-box").hidden = false;
  const canvas = $("draw");
  const ctx = canvas.getContext("2d");
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let drawing = false;
  const point = (e) => {
    const box = canvas.getBoundingClientRect();
    return [((e.clientX - box.left) / box.width) * canvas.width, ((e.clientY - box.top) / box.height) * canvas.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = canvas.width / 12;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...point(e));
    ctx.lineTo(...point(e));
    ctx.stroke();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    ctx.lineTo(...point(e));
    ctx.stroke();
  });
  const finish = () => {
    if (!drawing) return;
    drawing = false;
    sendDrawing(canvas);
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  $("clear").addEventListener("click", clear);
}

function sendDrawing(canvas) {
  const start = performance.now();
  const { width, height } = state.model.input;
  const small = document.createElement("canvas");
  small.width = width;
  small.height = height;
  const ctx = small.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(canvas, 0, 0, width, height);
  // toDataURL, not toBlob: Chrome encodes toBlob's PNG in an idle period, which may wait up to a
  // second while the page is busy
  const blob = new Blob([bytes(small.toDataURL("image/png").split(",")[1])], { type: "image/png" });
  upload(blob, "drawing.png", "drawing").then((analysis) => {
    if (analysis) window.explorerTimings[window.explorerTimings.length - 1].ms = performance.now() - start;
  });
}

async function start() {
  try {
    const model = await api("/api/model");
    buildModel(model);
    $("upload").addEventListener("change", (e) => {
      const file = e.target.files[0];
      if (file) upload(file, file.name, "upload").then(() => { e.target.value = ""; });
    });
    $("cam-method").addEventListener("change", () => loadAttribution().catch(reportError));
    let first = null;
    if (model.initial) first = await show(() => api("/api/initial"), "initial");
    else if (model.test_images.count) first = await showTestImage(0);
    if (!first && !model.initial && !model.test_images.count) {
      showMessage("Upload an image" + (model.drawable ? " or draw one" : "") + " to see what the network sees.");
    }
  } catch (error) {
    reportError(error);
  }
  performance.mark("explorer-ready");
  window.explorerReady = true;
}

document.addEventListener("DOMContentLoaded", start);

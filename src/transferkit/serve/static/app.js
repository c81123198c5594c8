// The page of `transferkit serve`: sends each image to POST predict and POST explain, shows the answers.
// Plain JavaScript, no library, no network but this server. Text from the server or a file name is only ever
// set with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let model = null;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

async function loadModel() {
  try {
    const answer = await fetch("model");
    model = await answer.json();
    if (!answer.ok) throw new Error(model.detail);
  } catch (error) {
    $("model-info").textContent = `The model's description could not be read: ${error.message}`;
    return;
  }
  const [height, width] = model.input_size;
  $("model-name").textContent = model.name;
  document.title = `transferkit: ${model.name}`;
  const base = model.base_model && model.base_model !== model.name ? ` on ${model.base_model}` : "";
  $("model-info").textContent =
    `${model.format} model${base}, ${width}×${height} input, ${model.num_classes} classes` +
    (model.explain ? "" : " (no Grad-CAM: an ONNX export has no gradients; serve the .keras file for it)");
  $("class-count").textContent = model.num_classes;
  const list = $("class-list");
  for (const name of model.classes) list.append(element("li", "", name));
  if (!model.explain) {
    $("cam").checked = false;
    $("cam").disabled = true;
  }
}

function card(file) {
  const item = element("li", "card");
  item.append(element("h3", "name", file.name || "pasted image"));
  const pictures = element("div", "pictures");
  const photo = element("figure");
  const img = element("img", "photo");
  img.alt = `The photo ${file.name || "pasted"}`;
  img.src = URL.createObjectURL(file);
  photo.append(img, element("figcaption", "", "The photo"));
  const cam = element("figure", "cam");
  cam.hidden = true;
  const overlay = element("img", "overlay");
  cam.append(overlay, element("figcaption"));
  pictures.append(photo, cam);
  const predictions = element("ol", "predictions");
  predictions.setAttribute("aria-label", `Top classes for ${file.name || "the pasted image"}`);
  const error = element("p", "error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  const note = element("p", "note", "Classifying…");
  item.append(pictures, predictions, note, error);
  $("results").prepend(item);
  return { item, cam, overlay, predictions, error, note };
}

function fail(view, message) {
  view.note.hidden = true;
  view.error.hidden = false;
  view.error.textContent = message;
}

async function post(path, file) {
  const body = new FormData();
  body.append("image", file, file.name || "pasted.png");
  const answer = await fetch(path, { method: "POST", body });
  let data;
  try {
    data = await answer.json();
  } catch {
    throw new Error(`the server answered ${answer.status} without JSON`);
  }
  if (!answer.ok) throw new Error(data.detail || `the server answered ${answer.status}`);
  return data;
}

async function classify(file) {
  const view = card(file);
  const top = $("top").value;
  const tta = $("tta").checked;
  let result;
  try {
    [result] = await post(`predict?top=${top}&tta=${tta}`, file);
  } catch (error) {
    fail(view, `Not classified: ${error.message}`);
    return;
  }
  const on = new Set((result.labels || []).map((p) => p.label));  // a multi-label model's labels
  for (const p of result.predictions) {
    const row = element("li", on.has(p.label) ? "on" : undefined);
    const bar = element("span", "bar");
    bar.setAttribute("aria-hidden", "true");
    const fill = element("span");
    fill.style.width = `${Math.max(0.5, 100 * p.probability)}%`;
    bar.append(fill);
    row.append(element("span", "label", p.label), element("span", "value", percent(p.probability)), bar);
    view.predictions.append(row);
  }
  const best = result.predictions[0];
  const unfamiliar = result.unfamiliar === true;
  if (unfamiliar) {
    const warning = element("p", "unfamiliar",
      `Unlike the images this model was trained on (score ${result.ood_score.toFixed(3)}): its answer may mean little.`);
    warning.setAttribute("role", "note");
    view.predictions.after(warning);
  }
  const answer = result.labels
    ? `labels: ${result.labels.map((p) => `${p.label} ${percent(p.probability)}`).join(", ") || "none"}`
    : `${best.label}, ${percent(best.probability)}`;
  if (result.labels) {
    view.predictions.before(element("p", "labels", answer));
  }
  $("status").textContent = `${result.image}: ${answer}` + (unfamiliar ? " (unlike the training images)" : "");
  if (!$("cam").checked || !model || !model.explain) {
    view.note.hidden = true;
    return;
  }
  view.note.textContent = "Computing the Grad-CAM overlay…";
  try {
    const shown = await post(`explain?format=json&class_index=${best.class_index}`, file);
    view.overlay.alt = `Grad-CAM overlay: in red, the parts of the photo that speak most for “${shown.label}”`;
    view.overlay.src = `data:image/png;base64,${shown.png_base64}`;
    view.cam.querySelector("figcaption").textContent = `Where it looked for “${shown.label}” (Grad-CAM)`;
    view.cam.hidden = false;
    view.note.hidden = true;
  } catch (error) {
    view.note.textContent = `No Grad-CAM overlay: ${error.message}`;
  }
}

function add(files) {
  const images = [...files].filter((f) => !f.type || f.type.startsWith("image/"));
  if (!images.length) {
    $("status").textContent = "No image among those files.";
    return;
  }
  $("status").textContent = `Classifying ${images.length} image${images.length > 1 ? "s" : ""}…`;
  images.forEach(classify);
}

document.addEventListener("DOMContentLoaded", () => {
  loadModel();
  const input = $("file");
  input.addEventListener("change", () => {
    add(input.files);
    input.value = "";
  });
  const zone = $("drop");
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) zone.classList.remove("over");
  });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    add(event.dataTransfer.files);
  });
  document.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.items || [])]
      .filter((item) => item.kind === "file")
      .map((item) => item.getAsFile())
      .filter(Boolean);
    if (files.length) add(files);
  });
});

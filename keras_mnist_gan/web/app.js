// The page: load model.json and the ONNX generator it names, then draw a grid
// of digits for a seed, laid out as `keras-mnist-gan sample` lays its PNG out
// (28-pixel digits, `pad` grey pixels between them), one canvas pixel each.
import { MAX_SEED, NoiseStream, slerp } from "./noise.js";

const $ = (id) => document.getElementById(id);
const SIDE = 28;
const WALK_STEPS = 24; // frames between two noise points

function fail(text) {
  const message = $("message");
  message.textContent = text;
  message.hidden = false;
  $("status").textContent = "";
  document.body.dataset.error = "true";
}

function readSeed() {
  const value = Number($("seed").value);
  if (!Number.isInteger(value) || value < 0 || value > MAX_SEED) {
    throw new RangeError(`The seed must be a whole number from 0 to ${MAX_SEED}.`);
  }
  return value;
}

class Page {
  constructor(session, info) {
    this.session = session;
    this.info = info;
    this.dim = info.noise_dim;
    this.walking = false;
  }

  // The digits and layout `sample` uses: a square grid of digits of any
  // class (drawn from the stream) or of the digit picked, or one row per
  // digit 0-9 (`--digit 0-9`). `labels` null: the stream's own classes.
  layout() {
    const grid = this.info.grid;
    const classes = this.info.num_classes;
    const picked = $("digit").value;
    if (classes && picked === "rows") {
      const n = grid.per_digit_cols * classes;
      const labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / grid.per_digit_cols) % classes);
      return { n, cols: grid.per_digit_cols, labels, flag: ` --digit 0-${classes - 1}` };
    }
    const n = grid.n;
    const cols = Math.min(Math.ceil(Math.sqrt(n)), n);
    if (classes && picked !== "") {
      return { n, cols, labels: new Int32Array(n).fill(Number(picked)), flag: ` --digit ${picked}` };
    }
    return { n, cols, labels: null, flag: "" };
  }

  async run(noise, labels, n) {
    const feeds = { [this.info.inputs.noise]: new ort.Tensor("float32", noise, [n, this.dim]) };
    if (labels) feeds[this.info.inputs.label] = new ort.Tensor("int32", labels, [n]);
    const results = await this.session.run(feeds);
    return results[this.info.output].data;
  }

  paint(pixels, n, cols) {
    const { pad, grey } = this.info.grid;
    const rows = Math.ceil(n / cols);
    const canvas = $("digits");
    canvas.width = cols * (SIDE + pad) + pad;
    canvas.height = rows * (SIDE + pad) + pad;
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(canvas.width, canvas.height);
    const background = Math.round(grey * 255);
    for (let i = 0; i < image.data.length; i += 4) {
      image.data.set([background, background, background, 255], i);
    }
    for (let d = 0; d < n; d++) {
      const top = pad + Math.floor(d / cols) * (SIDE + pad);
      const left = pad + (d % cols) * (SIDE + pad);
      for (let y = 0; y < SIDE; y++) {
        for (let x = 0; x < SIDE; x++) {
          const v = Math.round(Math.min(1, Math.max(0, pixels[d * SIDE * SIDE + y * SIDE + x])) * 255);
          image.data.set([v, v, v, 255], ((top + y) * canvas.width + left + x) * 4);
        }
      }
    }
    ctx.putImageData(image, 0, 0);
  }

  async draw(seed) {
    this.walking = false;
    const { n, cols, labels, flag } = this.layout();
    const started = performance.now();
    this.stream = new NoiseStream(seed);
    const drawn = this.stream.inputs(n, this.dim, this.info.num_classes);
    this.noise = drawn.noise;
    this.labels = labels || drawn.labels;
    this.paint(await this.run(this.noise, this.labels, n), n, cols);
    const ms = Math.round(performance.now() - started);
    $("status").textContent = `${n} digits for seed ${seed}, drawn in ${ms} ms; the same digits as ` +
      `keras-mnist-gan sample --model ${this.info.source} --seed ${seed}${flag}.`;
    document.body.dataset.seed = String(seed);
  }

  // Walk from the grid's noise to fresh points of the same stream and on,
  // until stopped, drawing each step.
  async walk() {
    const button = $("walk");
    if (this.walking) {
      this.walking = false;
      return;
    }
    this.walking = true;
    button.setAttribute("aria-pressed", "true");
    button.textContent = "Stop";
    const { n, cols } = this.layout();
    const labels = this.labels; // the grid's classes stay; only the noise walks
    let from = this.noise;
    try {
      while (this.walking) {
        const to = this.stream.normals(n * this.dim);
        for (let step = 1; step <= WALK_STEPS && this.walking; step++) {
          const noise = slerp(from, to, step / WALK_STEPS, this.dim);
          const pixels = await this.run(noise, labels, n);
          if (!this.walking) break; // a new grid was asked for meanwhile
          this.paint(pixels, n, cols);
          document.body.dataset.walkFrames = String(Number(document.body.dataset.walkFrames || 0) + 1);
          await new Promise(requestAnimationFrame);
          this.noise = noise;
        }
        from = to;
      }
    } finally {
      button.setAttribute("aria-pressed", "false");
      button.textContent = "Walk";
    }
  }
}

async function start() {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") {
    return fail("This browser cannot run WebAssembly, which the page needs to run the generator. " +
      "Please open it in a current Firefox, Chrome, Edge or Safari with WebAssembly enabled.");
  }
  if (location.protocol === "file:") {
    return fail("Browsers do not let a page opened as a file load its model. Serve the folder instead: " +
      "python -m http.server -d <this folder>, then open http://localhost:8000/.");
  }
  if (typeof ort === "undefined") {
    return fail("vendor/ort.wasm.min.js (ONNX Runtime Web) is missing. Write the site again with: keras-mnist-gan web --out DIR.");
  }
  const infoResponse = await fetch("model.json");
  if (!infoResponse.ok) {
    return fail(`model.json is missing (HTTP ${infoResponse.status}). Write the site again with: keras-mnist-gan web --out DIR.`);
  }
  const info = await infoResponse.json();
  const modelResponse = await fetch(info.model);
  if (!modelResponse.ok) {
    return fail(`The model file ${info.model} is missing (HTTP ${modelResponse.status}). ` +
      "Write the site again with: keras-mnist-gan web --out DIR [--model M].");
  }
  ort.env.wasm.numThreads = 1; // threads need cross-origin isolation, which a plain static server lacks
  ort.env.wasm.wasmPaths = new URL("vendor/", location.href).href;
  const session = await ort.InferenceSession.create(new Uint8Array(await modelResponse.arrayBuffer()),
    { executionProviders: ["wasm"] });
  const page = new Page(session, info);
  $("about").textContent = `${info.source}: ${info.num_classes ? "a conditional generator (any digit, or pick one)" : "a generator"} ` +
    `with ${info.noise_dim}-d noise, exported by keras-mnist-gan ${info.version}, drawing here in your browser ` +
    `with ONNX Runtime Web ${ort.env.versions.web || ""}. Nothing is sent anywhere.`;
  if (info.num_classes) {
    const names = info.class_names || [];
    $("digit").querySelector('option[value="rows"]').textContent = names.length
      ? "every class, a row each" : `0 to ${info.num_classes - 1}, a row each`;
    for (let d = 0; d < info.num_classes; d++) $("digit").add(new Option(names[d] || String(d), String(d)));
    $("digit-picker").hidden = false;
  }

  const params = new URLSearchParams(location.search);
  if (params.has("seed")) $("seed").value = params.get("seed");
  if (info.num_classes && params.has("digit")) {
    const index = (info.class_names || []).indexOf(params.get("digit")); // ?digit=cat as well as ?digit=3
    $("digit").value = index >= 0 ? String(index) : params.get("digit");
  }
  const redraw = async () => {
    try {
      $("message").hidden = true;
      await page.draw(readSeed());
    } catch (error) {
      fail(error.message);
    }
  };
  $("controls").addEventListener("submit", (event) => {
    event.preventDefault();
    redraw();
  });
  $("digit").addEventListener("change", redraw);
  $("new").addEventListener("click", () => {
    $("seed").value = String(crypto.getRandomValues(new Uint32Array(1))[0]);
    redraw();
  });
  $("walk").addEventListener("click", () => page.walk().catch((error) => fail(error.message)));
  await redraw();
  if (!document.body.dataset.error) document.body.dataset.ready = "true";
}

start().catch((error) => fail(`The generator could not start: ${error.message}`));

// Init script for the layout audit (runs before the app's scripts; never shipped): remembers the box
// of every piece of text drawn on each canvas since the canvas was last cleared as a whole, in the
// canvas element's CSS pixels. layout.js reads them with window.__canvasLabels(canvas).
(() => {
  const drawn = new WeakMap();
  window.__canvasLabels = (canvas) => drawn.get(canvas) || [];
  const proto = CanvasRenderingContext2D.prototype;
  const clearRect = proto.clearRect;
  const fillText = proto.fillText;
  const toCss = (ctx, x, y) => {
    const p = ctx.getTransform().transformPoint(new DOMPoint(x, y));
    return [p.x * (ctx.canvas.clientWidth / ctx.canvas.width), p.y * (ctx.canvas.clientHeight / ctx.canvas.height)];
  };
  proto.clearRect = function (x, y, w, h) {
    const [left, top] = toCss(this, x, y);
    const [right, bottom] = toCss(this, x + w, y + h);
    if (left <= 0.5 && top <= 0.5 && right >= this.canvas.clientWidth - 0.5 && bottom >= this.canvas.clientHeight - 0.5) {
      drawn.set(this.canvas, []);
    }
    return clearRect.call(this, x, y, w, h);
  };
  proto.fillText = function (text, x, y, maxWidth) {
    // measureText's bounding box is relative to (x, y) and already honours textAlign / textBaseline.
    const m = this.measureText(text);
    const [left, top] = toCss(this, x - m.actualBoundingBoxLeft, y - m.actualBoundingBoxAscent);
    const [right, bottom] = toCss(this, x + m.actualBoundingBoxRight, y + m.actualBoundingBoxDescent);
    if (!drawn.has(this.canvas)) drawn.set(this.canvas, []);
    drawn.get(this.canvas).push({ text: String(text), left, top, right, bottom });
    return fillText.call(this, text, x, y, maxWidth);
  };
})();

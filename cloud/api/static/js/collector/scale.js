// Reading a hanging scale from the phone, where the browser allows it (Web Serial:
// Chrome on a computer, or a phone with a USB-serial adapter; not every browser has it).
// Typing the weight the scale shows is always possible and is what the page defaults to.
//
// Most indicators stream lines such as "ST,GS,  3.250kg" or "   3250 g": the first
// line with a weight and a unit is taken (a line flagged US/unstable is skipped), and
// its raw bytes are kept (hex) with the weigh-in as the station's frames are.

/** Whether this browser can read a scale over a serial port at all. */
export function canReadScale() {
  return typeof navigator !== "undefined" && "serial" in navigator;
}

const WEIGHT = /([-+]?\d+(?:[.,]\d+)?)\s*(kg|g)\b/i;

/** Grams of one indicator line, or null (no weight, unstable, or not positive). */
export function parseScaleLine(line) {
  if (/\bUS\b|unstable|motion/i.test(line)) return null;
  const m = WEIGHT.exec(line);
  if (!m) return null;
  const value = parseFloat(m[1].replace(",", "."));
  const grams = Math.round(m[2].toLowerCase() === "kg" ? value * 1000 : value);
  return grams > 0 ? grams : null;
}

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Ask for a port (the browser shows its chooser), read until a stable weight or
 * `timeoutMs`, close. Resolves to {grams, frames: [hex], scale: "web-serial vid:pid"}.
 */
export async function readScale({ baudRate = 9600, timeoutMs = 10000 } = {}) {
  const port = await navigator.serial.requestPort();
  await port.open({ baudRate });
  const info = port.getInfo ? port.getInfo() : {};
  const name = `web-serial ${(info.usbVendorId || 0).toString(16)}:${(info.usbProductId || 0).toString(16)}`;
  const reader = port.readable.getReader();
  const timer = setTimeout(() => reader.cancel().catch(() => {}), timeoutMs);
  let buffer = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const b of value) {
        if (b === 0x0a || b === 0x0d) {
          if (buffer.length) {
            const line = new TextDecoder().decode(new Uint8Array(buffer));
            const grams = parseScaleLine(line);
            if (grams !== null) return { grams, frames: [hex(buffer)], scale: name };
          }
          buffer = [];
        } else if (buffer.length < 256) {
          buffer.push(b);
        }
      }
    }
    throw new Error("no stable weight from the scale");
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
    await port.close().catch(() => {});
  }
}

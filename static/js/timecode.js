// SMPTE timecode from frame numbers and back: the same arithmetic as studio_tools/media/timecode.py
// (a browser test holds both to the same known pairs). Rates are rationals: "30000/1001".
export function parseRate(rate, dropFrame = null) {
  const [num, den] = String(rate).includes("/") ? String(rate).split("/").map(Number) : [Number(rate), 1];
  const fps = num / den;
  const nominal = Math.round(fps);
  const canDrop = den === 1001 && (nominal === 30 || nominal === 60);
  const drop = dropFrame === null ? canDrop : Boolean(dropFrame) && canDrop;
  return { num, den, fps, nominal, drop, dropPerMinute: drop ? (nominal / 30) * 2 : 0 };
}

const pad = (n) => String(n).padStart(2, "0");

export function framesToTimecode(frame, rate) {
  const r = typeof rate === "object" ? rate : parseRate(rate);
  let f = Math.max(0, Math.floor(frame));
  const fps = r.nominal;
  if (r.drop) {
    const d = r.dropPerMinute;
    const perTen = fps * 600 - d * 9;
    const perMinute = fps * 60 - d;
    const tens = Math.floor(f / perTen);
    const rest = f % perTen;
    f += rest < d ? d * 9 * tens : d * 9 * tens + d * Math.floor((rest - d) / perMinute);
  }
  const frames = f % fps;
  const seconds = Math.floor(f / fps) % 60;
  const minutes = Math.floor(f / (fps * 60)) % 60;
  const hours = Math.floor(f / (fps * 3600)) % 24;
  return `${pad(hours)}:${pad(minutes)}:${pad(seconds)}${r.drop ? ";" : ":"}${pad(frames)}`;
}

export function timecodeToFrames(timecode, rate) {
  const match = /^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$/.exec(String(timecode).trim());
  if (!match) throw new Error(`“${timecode}” is not a timecode`);
  const r = typeof rate === "object" ? rate : parseRate(rate, match[4] === ":" ? null : true);
  const [h, m, s, f] = [match[1], match[2], match[3], match[5]].map(Number);
  if (m > 59 || s > 59 || f >= r.nominal) throw new Error(`“${timecode}” is out of range`);
  const totalMinutes = h * 60 + m;
  const plain = (h * 3600 + m * 60 + s) * r.nominal + f;
  if (!r.drop) return plain;
  if (s === 0 && f < r.dropPerMinute && m % 10 !== 0) throw new Error(`“${timecode}” does not exist in drop-frame`);
  return plain - r.dropPerMinute * (totalMinutes - Math.floor(totalMinutes / 10));
}

// The frame showing at a media time (seconds), and when a frame starts: exact for rationals, with
// half a frame of slack against the browser's float currentTime.
export function frameAt(seconds, rate) {
  const r = typeof rate === "object" ? rate : parseRate(rate);
  return Math.floor((seconds * r.num) / r.den + 1e-6);
}

export function frameStart(frame, rate) {
  const r = typeof rate === "object" ? rate : parseRate(rate);
  return (frame * r.den) / r.num;
}

// The ring of a new task: a two-tone pattern from a WebAudio oscillator (no sound file to
// fetch or cache), repeated until the responder acknowledges, with vibration where the device
// has it. Browsers start audio only after a tap: unlock() is called from the first one.

const PATTERN = [
  [988, 0.0, 0.16],
  [740, 0.2, 0.16],
  [988, 0.4, 0.16],
  [740, 0.6, 0.16],
]; // [hertz, start s, length s]: one burst
const EVERY_MS = 1500;
const VIBRATION = [300, 100, 300];

export class Ringer {
  constructor() {
    this.context = null;
    this.timer = null;
    this.onAudio = () => {};
  }

  get ringing() {
    return this.timer !== null;
  }

  /** Whether the sound can be heard (the browser let audio start). */
  get audible() {
    return this.context !== null && this.context.state === "running";
  }

  /** Create or resume the audio output; from a tap it always succeeds. */
  unlock() {
    try {
      if (!this.context) {
        this.context = new AudioContext();
        this.context.onstatechange = () => this.onAudio(this.audible);
      }
      if (this.context.state === "suspended") this.context.resume().catch(() => {});
    } catch {
      this.context = null; // no WebAudio: the overlay and vibration still show the task
    }
    this.onAudio(this.audible);
  }

  start() {
    if (this.ringing) return;
    this.unlock();
    this.burst();
    this.timer = setInterval(() => this.burst(), EVERY_MS);
  }

  stop() {
    if (!this.ringing) return;
    clearInterval(this.timer);
    this.timer = null;
    if (navigator.vibrate) navigator.vibrate(0);
  }

  burst() {
    if (navigator.vibrate) navigator.vibrate(VIBRATION);
    if (!this.audible) return;
    const context = this.context;
    const now = context.currentTime;
    for (const [hertz, start, length] of PATTERN) {
      const tone = context.createOscillator();
      const volume = context.createGain();
      tone.type = "square";
      tone.frequency.value = hertz;
      volume.gain.setValueAtTime(0.0001, now + start);
      volume.gain.exponentialRampToValueAtTime(0.35, now + start + 0.02);
      volume.gain.exponentialRampToValueAtTime(0.0001, now + start + length);
      tone.connect(volume).connect(context.destination);
      tone.start(now + start);
      tone.stop(now + start + length + 0.02);
    }
  }
}

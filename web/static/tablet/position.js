// The unit's own position while on duty: the browser's geolocation, sent at most every few
// seconds, or a point the responder sets by hand ("I am here") when geolocation is denied,
// missing, or refused because the page is not a secure context (plain HTTP off localhost).

const SEND_EVERY_MS = 5000;

export class PositionSharing {
  /**
   * send(lat, lon) → true when it went out (false: offline, kept for later);
   * onChange() whenever the position or the problem changes.
   */
  constructor({ send, onChange }) {
    this.send = send;
    this.onChange = onChange;
    /** @type {{lat:number, lon:number, accuracy:number|null, at:number, manual:boolean}|null} */
    this.own = null;
    /** null, or why geolocation gives nothing: insecure | unsupported | denied | unavailable. */
    this.problem = null;
    this.watchId = null;
    this.sentAt = 0;
    this.unsent = false;
    this.later = null;
  }

  get watching() {
    return this.watchId !== null;
  }

  /** Start following the device's position (call it from a tap: the permission prompt needs one). */
  watch() {
    if (this.watching) return;
    if (!window.isSecureContext) return this.fail("insecure");
    if (!navigator.geolocation) return this.fail("unsupported");
    this.watchId = navigator.geolocation.watchPosition(
      (fix) => this.fixed(fix.coords.latitude, fix.coords.longitude, fix.coords.accuracy, false),
      (error) => this.fail(error.code === error.PERMISSION_DENIED ? "denied" : "unavailable"),
      { enableHighAccuracy: true, maximumAge: 10000, timeout: 60000 },
    );
  }

  unwatch() {
    if (this.watching) navigator.geolocation.clearWatch(this.watchId);
    this.watchId = null;
    clearTimeout(this.later);
    this.later = null;
  }

  /** "I am here": a point picked on the map or the task's place; sent at once. */
  setByHand(lat, lon) {
    this.own = { lat, lon, accuracy: null, at: Date.now(), manual: true };
    this.unsent = true;
    this.sentAt = 0;
    this.share();
    this.onChange();
  }

  fixed(lat, lon, accuracy, manual) {
    this.problem = null;
    this.own = { lat, lon, accuracy, at: Date.now(), manual };
    this.unsent = true;
    this.share();
    this.onChange();
  }

  fail(problem) {
    if (problem === this.problem) return;
    this.problem = problem;
    this.onChange();
  }

  /** Send the newest position unless one went out less than SEND_EVERY_MS ago (then send it then). */
  share() {
    if (!this.own || !this.unsent) return;
    const wait = this.sentAt + SEND_EVERY_MS - Date.now();
    if (wait > 0) {
      if (!this.later) this.later = setTimeout(() => ((this.later = null), this.share()), wait);
      return;
    }
    if (this.send(this.own.lat, this.own.lon)) {
      this.sentAt = Date.now();
      this.unsent = false;
    }
  }
}

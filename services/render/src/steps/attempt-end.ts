/** How a delivery's work on an attempt ended. */
export type AttemptEnd =
  /** Rendered, handed to another backend, failed, or the job finished: ack. */
  | 'finished'
  /** This worker is shutting down (or cannot reach the job store) with work left: hand the message back. */
  | 'hand_back'
  /** Another delivery took the attempt over (this one was presumed dead): ack, it follows the task. */
  | 'lease_lost';

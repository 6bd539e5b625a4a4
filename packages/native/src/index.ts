/** The native (oneDNN) TensorFlow.js backend. Not built yet: see issue 3. */
export function nativeBackendAvailable(): boolean {
  return false;
}

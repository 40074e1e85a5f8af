// @effect auto-exposure: brightens a dark picture and calms a glaring one, adapting over time
// Reads the mean brightness of the incoming picture (its 1x1 mipmap level: the chain builds
// mipmaps for an effect that calls textureLod on u_input), glides towards it with the time
// constant `adapt`, and scales the picture so that the glided level lands on `target`, within
// [min_gain, max_gain]. Highlights above `knee` roll off smoothly instead of clipping. Black
// stays black: an empty frame is not lifted into grey. `contrast` (levels) first spreads the
// picture around its own mean colour, so a washed-out picture gains contrast without turning
// darker or lighter overall. `bypass` passes the picture through unchanged while the level is
// still followed, so switching back does not pump.
// The glided level lives in this stage's own alpha channel, read back next frame through
// u_prev, stored as -(level + STATE_FLOOR): the cleared history (alpha +1) then means "no level
// yet", and the first frame adopts the measured level at once.
uniform float target;    // @param 0.3 [0.05, 0.8] smoothing=0.2 "mean brightness to aim for"
uniform float adapt;     // @param 0.8 [0.05, 10] "seconds to cover 63% of a change in brightness"
uniform float max_gain;  // @param 4 [1, 16] smoothing=0.2 "most it brightens"
uniform float min_gain;  // @param 0.5 [0.1, 1] smoothing=0.2 "most it darkens"
uniform float knee;      // @param 0.7 [0.3, 1] smoothing=0.2 "brightness where highlights start to roll off (1: clip)"
uniform float contrast;  // @param 1 [0.5, 12] smoothing=0.2 "spread around the frame's mean colour (1: unchanged)"
uniform bool bypass;     // @param false "pass the picture through unchanged"

const vec3 LUMA = vec3(0.2126, 0.7152, 0.0722);
const float STATE_FLOOR = 0.001;

// Straight up to the knee, then an exponential shoulder that meets 1 only at infinity, with
// the same slope at the knee, so nothing bends abruptly.
vec3 roll_off(vec3 x) {
    float room = 1.0 - knee;
    if (room <= 0.0) return min(x, 1.0);
    vec3 over = max(x - knee, 0.0);
    vec3 shoulder = knee + room * (1.0 - exp(-over / room));
    return mix(x, shoulder, step(knee, x));
}

void main() {
    // This stage draws at its input's size: read the pixel itself (cheaper than filtering).
    vec3 c = texelFetch(u_input, ivec2(gl_FragCoord.xy), 0).rgb;
    vec3 mean = max(textureLod(u_input, vec2(0.5), 20.0).rgb, 0.0);
    float measured = dot(mean, LUMA);
    float stored = texelFetch(u_prev, ivec2(0, 0), 0).a;
    // The engine gives time and frame count, not the frame's length: their ratio is the mean
    // frame interval so far, exact offline and close live.
    float dt = u_frame > 0 ? u_time / float(u_frame) : 0.0;
    float level = measured;
    if (stored < 0.0) {
        float follow = 1.0 - exp(-dt / max(adapt, 0.001));
        level = mix(-stored - STATE_FLOOR, measured, follow);
    }
    float gain = clamp(target / max(level, 0.0001), min_gain, max_gain);
    vec3 spread = mean + (c - mean) * contrast;
    vec3 shown = bypass ? c : roll_off(max(spread, 0.0) * gain);
    frag_color = vec4(shown, -(level + STATE_FLOOR));
}

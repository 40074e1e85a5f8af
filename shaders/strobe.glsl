// @effect strobe: a flash on the beat (white or black), or on audio onsets
uniform float amount;      // @param 0 [0, 1] smoothing=0.02 "flash strength (0 = off)"
uniform float every;       // @param 1 [0.25, 8] "beats between flashes"
uniform float duty;        // @param 0.15 [0.01, 1] "part of the flash period that is lit"
uniform bool black;        // @param false "flash to black instead of white"
uniform float onset_flash; // @param 0 [0, 1] "flash also on audio onsets"

void main() {
    vec3 c = texture(u_input, v_uv).rgb;
    float phase = fract(u_beat / every);
    float flash = max(amount * step(phase, duty), onset_flash * u_onset);
    vec3 target = black ? vec3(0.0) : vec3(1.0);
    frag_color = vec4(mix(c, target, clamp(flash, 0.0, 1.0)), 1.0);
}

// @effect glow: bright parts bleed light around them (one pass, good on a projector)
uniform float amount;     // @param 0.6 [0, 3] smoothing=0.05 "strength of the glow"
uniform float threshold;  // @param 0.6 [0, 1] smoothing=0.05 "brightness where glow starts"
uniform float radius;     // @param 0.02 [0.001, 0.1] smoothing=0.1 "glow size, fraction of width"
uniform float level_glow; // @param 0 [0, 3] "extra glow with the audio level"

const vec3 LUMA = vec3(0.2126, 0.7152, 0.0722);

vec3 bright(vec2 q) {
    vec3 c = texture(u_input, q).rgb;
    return c * smoothstep(threshold, threshold + 0.2, dot(c, LUMA));
}

void main() {
    vec3 c = texture(u_input, v_uv).rgb;
    // Two rings of eight taps, turned against each other, approximate a soft blur cheaply.
    vec3 glow = vec3(0.0);
    for (int i = 0; i < 8; i++) {
        float a = float(i) * (TAU / 8.0);
        vec2 dir = vec2(cos(a), sin(a));
        glow += bright(v_uv + dir * radius * 0.5) * 0.6;
        glow += bright(v_uv + vec2(cos(a + 0.39), sin(a + 0.39)) * radius) * 0.4;
    }
    glow /= 8.0;
    frag_color = vec4(c + glow * (amount + level_glow * u_level), 1.0);
}

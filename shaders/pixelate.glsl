// @effect pixelate: big square pixels, optionally snapping finer on each beat
uniform float cells;      // @param 48 [2, 512] smoothing=0.1 "pixels across the image"
uniform float beat_snap;  // @param 0 [0, 1] "how far the cells shrink back to sharp at each beat"
uniform float mix_amount; // @param 1 [0, 1] smoothing=0.05 "blend with the sharp image"

void main() {
    float pulse = beat_snap * pow(1.0 - u_beat_phase, 3.0);
    float n = max(mix(cells, u_resolution.x, pulse), 1.0);
    vec2 q = (floor(v_uv * n) + 0.5) / n;
    vec3 blocky = texture(u_input, q).rgb;
    vec3 sharp = texture(u_input, v_uv).rgb;
    frag_color = vec4(mix(sharp, blocky, mix_amount), 1.0);
}

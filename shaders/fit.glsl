// @effect fit the picture to the output: letterbox, crop to fill, or stretch; applies the master fade
// Always the last stage; its parameter is output/fit. Here u_resolution is the output size and
// u_input_size the generator frame size, whose aspect the picture keeps in modes 0 and 1.
uniform int fit;  // @param 0 [0, 2] "0 fit (letterbox), 1 fill (crop), 2 stretch"

void main() {
    float out_aspect = u_resolution.x / u_resolution.y;
    float in_aspect = u_input_size.x / max(u_input_size.y, 1.0);
    vec2 scale = vec2(1.0);
    if (fit != 2) {
        // scale < 1 on an axis shows only part of the picture; > 1 leaves bars.
        float ratio = out_aspect / in_aspect;
        bool wider = ratio > 1.0;
        if (fit == 0) scale = wider ? vec2(ratio, 1.0) : vec2(1.0, 1.0 / ratio);
        else scale = wider ? vec2(1.0, 1.0 / ratio) : vec2(ratio, 1.0);
    }
    vec2 q = (v_uv - 0.5) * scale + 0.5;
    vec2 within = step(abs(q - 0.5), vec2(0.5));
    float inside = within.x * within.y;
    vec3 c = texture(u_input, q).rgb * inside;
    frag_color = vec4(c * u_fade, 1.0);
}

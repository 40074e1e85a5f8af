// @effect RGB split: red and blue pulled apart along an angle, green stays put
uniform float amount;      // @param 0.01 [0, 0.1] smoothing=0.05 "offset of red and blue, fraction of width"
uniform float angle;       // @param 0 [0, 1] smoothing=0.1 "direction of the split, in turns"
uniform float beat_kick;   // @param 0 [0, 0.1] "extra offset at each beat, fading over the beat"
uniform float bass_kick;   // @param 0 [0, 0.1] "extra offset with the bass level"

void main() {
    float shift = amount + beat_kick * pow(1.0 - u_beat_phase, 3.0) + bass_kick * u_bass;
    vec2 d = shift * vec2(cos(angle * TAU), sin(angle * TAU));
    float r = texture(u_input, v_uv + d).r;
    float g = texture(u_input, v_uv).g;
    float b = texture(u_input, v_uv - d).b;
    frag_color = vec4(r, g, b, 1.0);
}

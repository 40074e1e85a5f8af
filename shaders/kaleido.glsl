// @effect kaleidoscope: the image folded into mirrored wedges around a centre
uniform int segments;    // @param 6 [1, 24] "number of mirrored wedge pairs around the centre"
uniform float angle;     // @param 0 [0, 1] smoothing=0.1 "rotation of the wedges, in turns"
uniform float spin;      // @param 0 [-1, 1] smoothing=0.3 "extra rotation, turns per beat"
uniform float center_x;  // @param 0.5 [0, 1] smoothing=0.1 "centre of the fold, across"
uniform float center_y;  // @param 0.5 [0, 1] smoothing=0.1 "centre of the fold, up"
uniform float zoom;      // @param 1 [0.25, 4] smoothing=0.1 "magnification of the folded image"

void main() {
    vec2 centre = vec2(center_x, center_y);
    vec2 p = v_uv - centre;
    float r = length(p);
    float turn = (angle + spin * u_beat) * TAU;
    float wedge = TAU / float(max(segments, 1));
    // Fold the angle into [0, wedge/2]: every wedge mirrors its neighbour, so seams are invisible.
    float a = mod(atan(p.y, p.x) - turn, wedge);
    a = min(a, wedge - a);
    vec2 q = vec2(cos(a + turn), sin(a + turn)) * r / zoom + 0.5;
    // Mirror-repeat beyond the edges so wedges far from the centre stay filled.
    q = 1.0 - abs(1.0 - mod(q, 2.0));
    frag_color = vec4(texture(u_input, q).rgb, 1.0);
}

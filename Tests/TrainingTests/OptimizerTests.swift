import XCTest
import Foundation
import Tensors
import SafeTensors
import Encoders
import Training
import TestSupport

final class AdamWFixtureTests: XCTestCase {
    /// Our AdamW against `torch.optim.AdamW` (float32, foreach=False) for 4 steps with
    /// gradients spanning 1e-4…10: parameters and both moments within 1e-6 relative to the
    /// parameter scale.
    func checkCase(_ name: String) throws {
        let dir = TestPaths.fixture("adamw")
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("\(name).json"))) as! [String: Any]
        let file = try SafeTensorsFile(url: dir.appendingPathComponent("\(name).safetensors"))
        let lr = Float((meta["lr"] as! NSNumber).doubleValue)
        let wd = (meta["weight_decay"] as! NSNumber).doubleValue
        let steps = (meta["steps"] as! NSNumber).intValue
        let store = ParameterStore()
        let p0 = store.add("p0", shape: [37], decays: true), p1 = store.add("p1", shape: [5, 3], decays: true)
        store.train { _ in true }
        for p in [p0, p1] {
            try file.readFloats("init.\(p.name)", into: p.value.pointer, count: p.count)
        }
        let opt = AdamWOptimizer(parameters: [p0, p1], config: AdamWConfig(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: wd))
        for s in 1...steps {
            for p in [p0, p1] { try file.readFloats("grad.\(s).\(p.name)", into: p.gradient!.pointer, count: p.count) }
            opt.step(learningRate: lr)
            for (i, p) in [p0, p1].enumerated() {
                let ref = try file.floats("param.\(s).\(p.name)")
                XCTAssertLessThanOrEqual(Approx.maxAbsDiff(p.value.toArray(), ref), 1e-6, "\(name) step \(s) \(p.name)")
                XCTAssertLessThanOrEqual(Approx.relativeL2(opt.firstMoments[i].toArray(), try file.floats("exp_avg.\(s).\(p.name)")), 1e-6)
                XCTAssertLessThanOrEqual(Approx.relativeL2(opt.secondMoments[i].toArray(), try file.floats("exp_avg_sq.\(s).\(p.name)")), 1e-6)
            }
        }
    }

    func testMatchesTorchWithWeightDecay() throws { try checkCase("decay") }
    func testMatchesTorchWithoutWeightDecay() throws { try checkCase("nodecay") }

    func testNoDecayForBiases() {
        let store = ParameterStore()
        let p = store.add("x.bias", shape: [3], decays: false)
        store.train { _ in true }
        p.value.pointer.update(repeating: 2, count: 3)
        let opt = AdamWOptimizer(parameters: [p], config: AdamWConfig(weightDecay: 0.5))
        opt.step(learningRate: 0.1)   // zero gradient: only decay could move it
        XCTAssertEqual(p.value.toArray(), [2, 2, 2])
    }
}

final class ScheduleAndClippingTests: XCTestCase {
    func testLinearScheduleWithWarmupAsHuggingFace() {
        let s = LinearSchedule(peak: 1, totalSteps: 100, warmupRatio: 0.06)
        XCTAssertEqual(s.warmupSteps, 6)
        XCTAssertEqual(s.learningRate(at: 0), 0)
        XCTAssertEqual(s.learningRate(at: 3), 0.5, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(at: 6), 1, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(at: 53), Float(47) / 94, accuracy: 1e-7)
        XCTAssertEqual(s.learningRate(at: 100), 0)
        XCTAssertEqual(LinearSchedule(peak: 1, totalSteps: 10, warmupRatio: 0.06).warmupSteps, 1)
    }

    func testClippingScalesToMaxNorm() {
        let store = ParameterStore()
        let a = store.add("a", shape: [2], decays: true), b = store.add("b", shape: [1], decays: true)
        store.train { _ in true }
        a.gradient!.pointer[0] = 3; a.gradient!.pointer[1] = 0; b.gradient!.pointer[0] = 4
        let norm = GradientClipping.clip(store, maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-9)
        XCTAssertEqual(GradientClipping.globalNorm(store), 1, accuracy: 1e-5)
        // Below the threshold nothing changes.
        let before = a.gradient!.toArray()
        GradientClipping.clip(store, maxNorm: 10)
        XCTAssertEqual(a.gradient!.toArray(), before)
    }
}
